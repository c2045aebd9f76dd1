package io.quantflow.core.gpu;

import io.quantflow.core.Fixtures;
import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.Device;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.format.Formats;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.synth.ModelShape;
import io.quantflow.core.synth.SyntheticCheckpoint;
import io.quantflow.core.target.IfExists;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Whole conversions on the GPU and on the CPU write the same files, byte for byte. */
@Tag("gpu")
class GpuConversionTest {
    @TempDir
    Path tmp;

    @ParameterizedTest(name = "fixture {0} dq={1} bs={2}")
    @CsvSource({"NF4, true, 64", "FP4, false, 64", "NF4, false, 4096", "FP4, true, 32"})
    void theFixtureConvertsToTheSameFilesOnBothDevices(QuantType type, boolean dq, int bs) throws IOException {
        Path src = Fixtures.path("tiny-llama/base-bf16");
        assertSameOutput(src, new QuantOptions(type, dq, bs, DType.BF16, List.of()));
    }

    @ParameterizedTest(name = "synthetic {0} sharded")
    @CsvSource({"BF16", "F16", "F32"})
    void shardedSyntheticModelsConvertToTheSameFiles(DType dtype) throws IOException {
        Path src = tmp.resolve("synth-" + dtype);
        SyntheticCheckpoint.write(ModelShape.named("tiny-llama"), dtype, 3, src, 1_000_000, IfExists.FAIL, n -> { });
        assertSameOutput(src, QuantOptions.defaults());
    }

    private void assertSameOutput(Path src, QuantOptions options) throws IOException {
        Path gpu = tmp.resolve("gpu-" + System.nanoTime());
        Path cpu = tmp.resolve("cpu-" + System.nanoTime());
        Manifest g = new Converter().convert(new Converter.Request(src, null, gpu, java.util.List.of(Formats.BNB_4BIT), options, null, IfExists.FAIL, 4,
                Device.GPU), Converter.Listener.NONE).manifest();
        Manifest c = new Converter().convert(new Converter.Request(src, null, cpu, java.util.List.of(Formats.BNB_4BIT), options, null, IfExists.FAIL, 4,
                Device.CPU), Converter.Listener.NONE).manifest();
        assertTrue(g.options().quantizer().startsWith("gpu "), g.options().quantizer());
        assertTrue(c.options().quantizer().startsWith("cpu "), c.options().quantizer());
        assertEquals(c.files(), g.files(), "same files, sizes and sha256");
        List<Path> files;
        try (Stream<Path> s = Files.list(cpu)) {
            files = s.filter(p -> !p.getFileName().toString().equals(Manifest.FILE_NAME)).sorted().toList();
        }
        assertTrue(files.size() >= 2);
        for (Path f : files) {
            assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(gpu.resolve(f.getFileName())), f.getFileName().toString());
        }
    }
}
