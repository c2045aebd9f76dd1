package io.quantflow.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Counts and numbers as the commands print them. */
class NumbersTest {
    @Test
    void countsInBillionsMillionsOrWhole() {
        assertEquals("1.24B", Numbers.count(1_235_814_400L));
        assertEquals("1.00B", Numbers.count(1_000_000_000L));
        assertEquals("167.8M", Numbers.count(167_772_160L));
        assertEquals("1.0M", Numbers.count(1_000_000L));
        assertEquals("999999", Numbers.count(999_999L));
        assertEquals("0", Numbers.count(0));
    }

    @Test
    void wholeNumbersWithoutAFraction() {
        assertEquals("16", Numbers.plain(16.0));
        assertEquals("0.5", Numbers.plain(0.5));
        assertEquals("-32", Numbers.plain(-32.0));
        assertEquals("1.0E15", Numbers.plain(1e15));
    }
}
