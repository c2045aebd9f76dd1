package io.quantflow.core.quant;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The table-driven {@link DynamicMap#encode} against bitsandbytes' search as written. */
class DynamicMapTest {

    @Test
    void agreesWithTheReferenceSearchAcrossTheFloatRange() {
        // every 61st bit pattern: all signs, exponents and mantissa patterns, NaNs and infinities included
        for (long bits = 0; bits <= 0xFFFF_FFFFL; bits += 61) {
            float x = Float.intBitsToFloat((int) bits);
            assertEquals(DynamicMap.encodeReference(x), DynamicMap.encode(x), () -> "x = " + x);
        }
    }

    @Test
    void agreesOnTheMapValuesTheirNeighboursAndMidpoints() {
        float[] map = DynamicMap.signed();
        for (int i = 0; i < 256; i++) {
            float v = map[i];
            for (float x : new float[] {v, Math.nextUp(v), Math.nextDown(v), -v}) {
                assertEquals(DynamicMap.encodeReference(x), DynamicMap.encode(x), "x = " + x);
            }
            if (i > 0) {
                float mid = (map[i - 1] + v) * 0.5f;
                for (float x : new float[] {mid, Math.nextUp(mid), Math.nextDown(mid)}) {
                    assertEquals(DynamicMap.encodeReference(x), DynamicMap.encode(x), "midpoint x = " + x);
                }
            }
        }
        for (float x : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f,
                Float.MIN_VALUE, -Float.MIN_VALUE, 1f, -1f, 2f, -2f}) {
            assertEquals(DynamicMap.encodeReference(x), DynamicMap.encode(x), "x = " + x);
        }
    }
}
