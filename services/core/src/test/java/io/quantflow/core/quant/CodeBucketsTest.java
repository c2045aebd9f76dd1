package io.quantflow.core.quant;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The vector path's bucket lookup gives the decision tree's code for every float it is used on:
 * all of |x| <= 1 + 2^-23, swept one bit pattern at a time (about 2.1e9 values per type).
 */
class CodeBucketsTest {
    @ParameterizedTest(name = "{0}")
    @EnumSource(QuantType.class)
    void everyFloatInRangeGetsTheDecisionTreesCode(QuantType q) {
        CodeBuckets buckets = CodeBuckets.of(q);
        int limit = Float.floatToRawIntBits(CodeBuckets.LIMIT);
        for (int sign = 0; sign < 2; sign++) {
            int signBit = sign << 31;
            for (int bits = 0; bits <= limit; bits++) {
                float x = Float.intBitsToFloat(bits | signBit);
                int got = buckets.code(x);
                if (got != q.encode(x)) {
                    assertEquals(q.encode(x), got, q + " at " + x + " (0x" + Integer.toHexString(bits | signBit) + ")");
                }
            }
        }
    }
}
