package io.quantflow.core.quant;

import io.quantflow.core.safetensors.DType;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Rounding to bf16/f16: the vector path against the scalar reference, and the reference against the definition. */
class DtypeEncodingTest {

    @Test
    void vectorRoundingAndEncodingEqualTheReference() {
        Random rnd = new Random(3);
        for (int n : new int[] {0, 1, 7, 15, 16, 17, 33, 100, 1023, 4097}) {
            float[] v = new float[n + 3];
            for (int i = 0; i < v.length; i++) {
                v[i] = switch (i % 9) {
                    case 0 -> Float.intBitsToFloat(rnd.nextInt());
                    case 1 -> Float.NaN;
                    case 2 -> Float.intBitsToFloat(0xFFC12345);
                    case 3 -> Float.POSITIVE_INFINITY;
                    case 4 -> -0f;
                    case 5 -> Float.intBitsToFloat(0x3F808000);
                    case 6 -> Float.intBitsToFloat(0x3F818000);
                    case 7 -> Float.MIN_VALUE;
                    default -> (float) rnd.nextGaussian();
                };
            }
            for (DType d : new DType[] {DType.BF16, DType.F16, DType.F32}) {
                float[] a = v.clone();
                float[] b = v.clone();
                DtypeEncoding.round(d, a, 2, n);
                DtypeEncoding.roundScalar(d, b, 2, n);
                assertArrayEquals(bits(b), bits(a), d + " round n=" + n);
                byte[] x = new byte[d.size() * (n + 3)];
                byte[] y = new byte[d.size() * (n + 3)];
                DtypeEncoding.encode(d, v, 1, n, x, 3);
                DtypeEncoding.encodeScalar(d, v, 1, n, y, 3);
                assertArrayEquals(y, x, d + " encode n=" + n);
            }
        }
    }

    @Test
    void bf16RoundsToNearestEven() {
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0)
        assertEquals(1.0f, DtypeEncoding.round(DType.BF16, Float.intBitsToFloat(0x3F808000)), 0f);
        // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: goes to 1 + 2^-6
        assertEquals(Float.intBitsToFloat(0x3F820000), DtypeEncoding.round(DType.BF16, Float.intBitsToFloat(0x3F818000)), 0f);
        assertEquals(Float.intBitsToFloat(0x3F810000), DtypeEncoding.round(DType.BF16, Float.intBitsToFloat(0x3F808001)), 0f);
        assertTrue(Float.isNaN(DtypeEncoding.round(DType.BF16, Float.intBitsToFloat(0x7F800001))), "a NaN whose payload is in the low bits stays NaN");
        assertEquals(Float.POSITIVE_INFINITY, DtypeEncoding.round(DType.BF16, Float.MAX_VALUE), 0f);
    }

    static int[] bits(float[] f) {
        int[] out = new int[f.length];
        for (int i = 0; i < f.length; i++) {
            out[i] = Float.floatToRawIntBits(f[i]);
        }
        return out;
    }
}
