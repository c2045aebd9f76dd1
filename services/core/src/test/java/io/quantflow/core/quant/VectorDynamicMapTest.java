package io.quantflow.core.quant;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The Vector API run of {@link DynamicMap#encode} (used by double quantization) gives its codes, specials included. */
class VectorDynamicMapTest {
    @Test
    void vectorRunEqualsScalarEncode() {
        Random rnd = new Random(5);
        float[] specials = {Float.NaN, -Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, 1f, -1f,
                2f, -2f, Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_VALUE, -Float.MIN_VALUE, 1e-30f, -1e-30f};
        int n = 20011;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = switch (rnd.nextInt(4)) {
                case 0 -> specials[rnd.nextInt(specials.length)];
                case 1 -> DynamicMap.value(rnd.nextInt(256));
                case 2 -> Float.intBitsToFloat(rnd.nextInt());
                default -> (float) rnd.nextGaussian() * 0.01f + 0.02f;
            };
            if (rnd.nextInt(8) == 0) {
                v[i] = rnd.nextBoolean() ? Math.nextUp(v[i]) : Math.nextDown(v[i]);
            }
        }
        float[][] params = {{0f, 1f}, {0.02f, 37.5f}, {-0.5f, 0.75f}, {0f, Float.POSITIVE_INFINITY}, {Float.POSITIVE_INFINITY, 1f}};
        for (float[] p : params) {
            for (int start : new int[] {0, 1, 7}) {
                int len = n - start - 3;
                byte[] codes = new byte[len + 9];
                VectorDynamicMap.encode(v, start, len, p[0], p[1], codes, 4);
                for (int i = 0; i < len; i++) {
                    float x = (v[start + i] - p[0]) * p[1];
                    assertEquals((byte) DynamicMap.encode(x), codes[4 + i], "x = " + x);
                }
            }
        }
    }
}
