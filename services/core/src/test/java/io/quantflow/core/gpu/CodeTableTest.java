package io.quantflow.core.gpu;

import io.quantflow.core.quant.QuantType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The kernel's code lookup (bound compare within 11-bit groups) against the reference decision
 * trees for every one of the 2^32 float bit patterns: a mismatch anywhere, NaN payloads and
 * infinities included, fails.
 */
class CodeTableTest {

    @ParameterizedTest
    @EnumSource(QuantType.class)
    void theTableGivesTheReferenceCodeForEveryFloat(QuantType type) {
        CodeTable table = CodeTable.of(type);
        AtomicLong mismatches = new AtomicLong();
        AtomicLong firstBad = new AtomicLong(-1);
        IntStream.range(0, CodeTable.GROUPS).parallel().forEach(g -> {
            int first = g << 21;
            for (int i = 0; i < 1 << 21; i++) {
                int bits = first | i;
                if (table.code(bits) != type.encode(Float.intBitsToFloat(bits))) {
                    mismatches.incrementAndGet();
                    firstBad.compareAndSet(-1, Integer.toUnsignedLong(bits));
                }
            }
        });
        assertEquals(0, mismatches.get(), type + ": first mismatch at bits 0x" + Long.toHexString(firstBad.get()));
    }

    @ParameterizedTest
    @EnumSource(QuantType.class)
    void theWordsHoldBoundsThenBothCodesTwice(QuantType type) {
        CodeTable table = CodeTable.of(type);
        int[] w = table.words();
        assertEquals(2 * CodeTable.GROUPS, w.length);
        for (int g = 0; g < CodeTable.GROUPS; g++) {
            int bound = w[g];
            int codes = w[CodeTable.GROUPS + g];
            int lo = codes & 0xFF;
            int hi = (codes >>> 8) & 0xFF;
            assertEquals(lo << 4, (codes >>> 16) & 0xFF);
            assertEquals(hi << 4, codes >>> 24);
            assertEquals(g, bound >>> 21, "the bound lies in its group");
            assertEquals(lo, table.code(bound));
            if (bound != (g << 21 | 0x1FFFFF)) {
                assertEquals(hi, table.code(bound + 1));
            }
        }
        // spot checks on the reference's documented outcomes
        assertEquals(0, table.code(Float.floatToRawIntBits(Float.NaN)));
        assertEquals(type == QuantType.NF4 ? 7 : 0, table.code(Float.floatToRawIntBits(-0.0f)));
        assertEquals(type == QuantType.NF4 ? 15 : 3, table.code(Float.floatToRawIntBits(Float.POSITIVE_INFINITY)));
    }
}
