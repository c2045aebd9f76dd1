package io.quantflow.core.quant;

import io.quantflow.core.safetensors.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Vector API BF16 decode against the scalar reference, bit for bit, at awkward lengths and offsets. */
class HalfFloatsTest {
    private static final float SENTINEL = Float.intBitsToFloat(0x7FC0_1234);

    @ParameterizedTest(name = "n={0}")
    @ValueSource(ints = {0, 1, 2, 3, 7, 8, 9, 13, 15, 16, 17, 31, 32, 33, 63, 64, 65, 207, 702, 1023, 4097, 262_147})
    void vectorBf16MatchesScalarOnRandomBytes(int n) {
        SplittableRandom random = new SplittableRandom(0x5EED + n);
        for (int srcOff : new int[] {0, 1, 3, 64}) {
            for (int dstOff : new int[] {0, 5}) {
                byte[] src = new byte[srcOff + 2 * n + 3];
                random.nextBytes(src);
                float[] expected = filled(dstOff + n + 2);
                float[] vector = filled(dstOff + n + 2);
                float[] viaDecode = filled(dstOff + n + 2);

                HalfFloats.decodeScalar(DType.BF16, src, srcOff, n, expected, dstOff);
                VectorHalfFloats.decodeBf16(src, srcOff, n, vector, dstOff);
                HalfFloats.decode(DType.BF16, src, srcOff, n, viaDecode, dstOff);

                String where = "n=" + n + " srcOff=" + srcOff + " dstOff=" + dstOff;
                assertArrayEquals(bits(expected), bits(vector), "vector decode differs from the scalar reference, " + where);
                assertArrayEquals(bits(expected), bits(viaDecode), "HalfFloats.decode differs from the scalar reference, " + where);
            }
        }
    }

    @Test
    void scalarBf16IsTheUpperHalfOfFloat32() {
        // 1.0, -2.0, +inf, -0.0, smallest subnormal, a NaN with payload: little-endian pairs
        byte[] src = {(byte) 0x80, 0x3F, 0x00, (byte) 0xC0, (byte) 0x80, 0x7F, 0x00, (byte) 0x80, 0x01, 0x00, 0x01, (byte) 0xFF};
        int[] expected = {0x3F80_0000, 0xC000_0000, 0x7F80_0000, 0x8000_0000, 0x0001_0000, 0xFF01_0000};
        float[] dst = new float[expected.length];
        HalfFloats.decodeScalar(DType.BF16, src, 0, expected.length, dst, 0);
        assertArrayEquals(expected, bits(dst));
        float[] fast = new float[expected.length];
        HalfFloats.decode(DType.BF16, src, 0, expected.length, fast, 0);
        assertArrayEquals(expected, bits(fast));
    }

    @Test
    void decodeUsesTheVectorPathWhereTheQuantizerDoes() {
        String decoder = HalfFloats.bf16DecoderName();
        if (VectorizationProvider.get().vector()) {
            assertTrue(decoder.startsWith("vector-"), decoder);
        } else {
            assertEquals("scalar", decoder);
        }
    }

    private static float[] filled(int length) {
        float[] a = new float[length];
        Arrays.fill(a, SENTINEL);
        return a;
    }

    private static int[] bits(float[] values) {
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = Float.floatToRawIntBits(values[i]);
        }
        return out;
    }
}
