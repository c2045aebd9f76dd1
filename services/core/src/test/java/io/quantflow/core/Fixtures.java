package io.quantflow.core;

import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.TensorInfo;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The reference outputs of transformers, PEFT and bitsandbytes in {@code ../shared/fixtures}.
 * Tests that need them are skipped, saying so, only when that folder is absent.
 */
public final class Fixtures {
    private Fixtures() {
    }

    public static Path root() {
        String prop = System.getProperty("quantflow.fixtures");
        Path p = prop != null ? Path.of(prop) : Path.of("../../../shared/fixtures");
        if (!Files.isDirectory(p)) {
            p = Path.of(System.getProperty("user.dir")).resolve("../../../shared/fixtures").normalize();
        }
        Assumptions.assumeTrue(Files.isDirectory(p),
                "reference fixtures not found at " + p.toAbsolutePath().normalize()
                        + " (expected ../shared/fixtures beside the repository): skipping fixture comparisons");
        return p.toAbsolutePath().normalize();
    }

    public static Path path(String relative) {
        return root().resolve(relative);
    }

    public static byte[] bytes(SafetensorsFile f, String tensor) {
        TensorInfo t = f.header().tensor(tensor);
        if (t == null) {
            throw new AssertionError("fixture lacks tensor " + tensor);
        }
        ByteBuffer buf = ByteBuffer.allocate((int) t.byteSize());
        try {
            f.read(t, 0, buf);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return buf.array();
    }

    public static float[] floats(SafetensorsFile f, String tensor) {
        byte[] b = bytes(f, tensor);
        float[] out = new float[b.length / 4];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }
}
