package io.quantflow.core.synth;

import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.util.Digests;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SyntheticCheckpointTest {
    @TempDir
    Path tmp;

    @Test
    void theNormalTableIsANormalDistribution() {
        assertEquals(0.0, NormalTable.inverseNormal(0.5), 1e-12);
        assertEquals(1.959963984540054, NormalTable.inverseNormal(0.975), 1e-8);
        assertEquals(-2.3263478740408408, NormalTable.inverseNormal(0.01), 1e-8);
        byte[] t = NormalTable.encoded(DType.F32, 0.02);
        float[] v = new float[NormalTable.SIZE];
        HalfFloats.decode(DType.F32, t, 0, v.length, v, 0);
        double sum = 0;
        double sq = 0;
        for (int i = 0; i < v.length; i++) {
            sum += v[i];
            sq += (double) v[i] * v[i];
            assertEquals(-v[i], v[v.length - 1 - i], 1e-9, "symmetric");
            if (i > 0) {
                assertTrue(v[i] > v[i - 1], "increasing");
            }
        }
        assertEquals(0.0, sum / v.length, 1e-9);
        assertEquals(0.02, Math.sqrt(sq / v.length), 2e-4);
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherBytes() throws IOException {
        ModelShape tiny = ModelShape.named("tiny-llama");
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        Path c = tmp.resolve("c");
        SyntheticCheckpoint.write(tiny, DType.BF16, 1, a, 1_000_000, IfExists.FAIL, n -> { });
        SyntheticCheckpoint.write(tiny, DType.BF16, 1, b, 1_000_000, IfExists.FAIL, n -> { });
        SyntheticCheckpoint.write(tiny, DType.BF16, 2, c, 1_000_000, IfExists.FAIL, n -> { });
        try (Checkpoint ca = Checkpoint.open(a)) {
            assertTrue(ca.shards().size() > 1, "sharded at 1 MB");
            assertEquals(tiny.parameters(), ca.parameters());
            for (Checkpoint.Shard s : ca.shards()) {
                assertEquals(Digests.sha256(a.resolve(s.fileName())), Digests.sha256(b.resolve(s.fileName())));
                assertNotEquals(Digests.sha256(a.resolve(s.fileName())), Digests.sha256(c.resolve(s.fileName())));
                for (TensorInfo t : s.file().header().tensors()) {
                    assertEquals(DType.BF16, t.dtype());
                }
            }
        }
    }
}
