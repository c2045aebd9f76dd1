package io.quantflow.core.gpu;

import io.quantflow.core.quant.BlockwiseDequantizer;
import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The dequantization kernel against the reference: code value x absmax, rounded once, NaN canonical. */
@Tag("gpu")
class GpuDequantizerTest {
    static GpuTensorQuantizer gpu;

    @BeforeAll
    static void open() {
        gpu = GpuTensorQuantizer.open(1L << 20, 1);
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
        }
    }

    @Test
    void everyOutputTypeAndBlocksizeGivesTheReferenceBytes() {
        Random rnd = new Random(17);
        GpuDequantizer deq = new GpuDequantizer(gpu);
        for (int n : new int[] {1, 7, 8, 9, 4095, 100_003, 1_000_000}) {
            for (int bs = 32; bs <= 4096; bs *= 4) {
                byte[] packed = new byte[(n + 1) / 2];
                rnd.nextBytes(packed);
                float[] absmax = TestTensors.values((n + bs - 1) / bs, rnd);
                for (int i = 0; i < absmax.length; i++) {
                    absmax[i] = i % 3 == 0 ? absmax[i] * 1e4f : Math.abs(absmax[i]);
                }
                for (QuantType type : QuantType.values()) {
                    float[] ref = new float[n];
                    BlockwiseDequantizer.dequantize(type, packed, absmax, n, bs, ref);
                    for (DType d : new DType[] {DType.BF16, DType.F16, DType.F32}) {
                        byte[] want = new byte[n * d.size()];
                        HalfFloats.encode(d, ref, 0, n, want, 0);
                        byte[] got = deq.dequantize(type, packed, absmax, n, bs, d);
                        assertEquals(-1, Arrays.mismatch(want, got), n + " " + bs + " " + type + " " + d);
                    }
                }
            }
        }
    }
}
