package io.quantflow.cli;

import java.util.Locale;

/** Numbers as the commands print them. */
final class Numbers {
    private Numbers() {
    }

    /** A count as people say it: 1.24B, 167.8M, 4096. */
    static String count(long n) {
        if (n >= 1_000_000_000L) {
            return String.format(Locale.ROOT, "%.2fB", n / 1e9);
        }
        if (n >= 1_000_000L) {
            return String.format(Locale.ROOT, "%.1fM", n / 1e6);
        }
        return Long.toString(n);
    }

    /** A number as people write it: 16, not 16.0. */
    static String plain(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
    }
}
