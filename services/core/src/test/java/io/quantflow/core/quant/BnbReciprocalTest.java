package io.quantflow.core.quant;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reciprocal table measured on an H200 (scripts/reference/bnb-fp4/rcp_table.cu, whose log gave the counts
 * below), read back as {@link BnbReciprocal} applies it.
 */
class BnbReciprocalTest {

    @Test
    void theTableHoldsWhatTheGpuGave() {
        long[] counts = new long[3];
        for (int m = 0; m < 1 << 23; m++) {
            int d = BnbReciprocal.delta(m);
            assertTrue(d >= -1 && d <= 1, "mantissa " + m + ": " + d + " ulps");
            counts[d + 1]++;
        }
        // rcp_table's log: "ulps from 1/m (-2..2): 0 374723 7280086 733799 0"
        assertEquals(374_723, counts[0]);
        assertEquals(7_280_086, counts[1]);
        assertEquals(733_799, counts[2]);
        int f16 = 0;
        for (int m = 0; m < 1 << 23; m += 1 << 13) {
            f16 += BnbReciprocal.delta(m) != 0 ? 1 : 0;
        }
        assertEquals(130, f16, "float16 mantissas whose approximate reciprocal is not 1/m");
    }

    @Test
    void everyExponentScalesTheMantissasReciprocal() {
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < 1_000_000; i++) {
            float x = Float.intBitsToFloat(r.nextInt(0x0080_0000, 0x7F80_0000));
            float inv = BnbReciprocal.of(x);
            float exact = 1.0f / x;
            if (exact < Float.MIN_NORMAL) {
                assertEquals(0f, inv, "flushed: " + x);
                continue;
            }
            // within one unit in the last place of the correctly rounded reciprocal, and negation-symmetric
            assertTrue(Math.abs(Float.floatToIntBits(inv) - Float.floatToIntBits(exact)) <= 1, x + ": " + inv + " vs " + exact);
            assertEquals(-inv, BnbReciprocal.of(-x));
            float m = Float.intBitsToFloat(0x3F80_0000 | (Float.floatToIntBits(x) & 0x7F_FFFF));
            assertEquals(Math.scalb(BnbReciprocal.of(m), -Math.getExponent(x)), inv, "scaled from the mantissa: " + x);
        }
    }

    @Test
    void whatIsNotANormalFloatIsFlushedAsFtzDoes() {
        assertEquals(Float.POSITIVE_INFINITY, BnbReciprocal.of(0f));
        assertEquals(Float.POSITIVE_INFINITY, BnbReciprocal.of(Float.MIN_VALUE));
        assertEquals(Float.POSITIVE_INFINITY, BnbReciprocal.of(Float.MIN_NORMAL / 2));
        assertEquals(0f, BnbReciprocal.of(Float.POSITIVE_INFINITY));
        assertEquals(0f, BnbReciprocal.of(0x1p127f), "2^-127 is subnormal");
        assertEquals(0x1p-126f, BnbReciprocal.of(0x1p126f));
        assertEquals(1f, BnbReciprocal.of(1f));
        assertTrue(Float.isNaN(BnbReciprocal.of(Float.NaN)));
    }
}
