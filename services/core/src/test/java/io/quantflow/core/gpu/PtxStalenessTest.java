package io.quantflow.core.gpu;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The PTX that core carries must be what kernels/build.sh makes of kernels/quantize.cu now: this
 * rebuilds it and compares. Where nvcc is not installed the test is skipped, saying so.
 */
class PtxStalenessTest {
    @TempDir
    Path tmp;

    @Test
    void theCommittedPtxIsBuiltFromTheCurrentSource() throws IOException, InterruptedException {
        Path kernels = kernelsDir();
        Assumptions.assumeTrue(nvccAvailable(), "nvcc is not installed here: cannot rebuild the PTX to check that "
                + "services/core/src/main/resources/io/quantflow/core/gpu/quantize.ptx is current");
        Process p = new ProcessBuilder("bash", kernels.resolve("build.sh").toString(), "--out", tmp.toString())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "kernels/build.sh did not finish");
        assertEquals(0, p.exitValue(), "kernels/build.sh failed:\n" + log);
        String rebuilt = Files.readString(tmp.resolve(KernelImage.RESOURCE));
        String committed;
        try (InputStream in = KernelImage.class.getResourceAsStream(KernelImage.RESOURCE)) {
            assertTrue(in != null, "no " + KernelImage.RESOURCE + " resource");
            committed = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        if (!rebuilt.equals(committed)) {
            fail("quantize.ptx is stale: kernels/quantize.cu (or build.sh) changed since it was built. Run kernels/build.sh "
                    + "and commit services/core/src/main/resources/io/quantflow/core/gpu/quantize.ptx. (" + log.strip() + ")");
        }
    }

    private static Path kernelsDir() {
        String prop = System.getProperty("quantflow.kernels");
        Path p = prop != null ? Path.of(prop) : Path.of("../../kernels");
        assertTrue(Files.isRegularFile(p.resolve("quantize.cu")), "kernel sources not found at " + p.toAbsolutePath());
        return p;
    }

    private static boolean nvccAvailable() throws InterruptedException {
        try {
            Process p = new ProcessBuilder(System.getenv().getOrDefault("NVCC", "nvcc"), "--version")
                    .redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        }
    }
}
