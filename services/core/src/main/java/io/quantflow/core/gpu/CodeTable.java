package io.quantflow.core.gpu;

import io.quantflow.core.quant.QuantType;

/**
 * How the GPU kernel picks a 4-bit code: a table over the 2048 groups of float bit patterns that
 * share their top 11 bits (sign, exponent, two mantissa bits). The reference's code of a scaled
 * value changes at most once inside such a group (the decision thresholds are far enough apart),
 * so each group stores the bit pattern at which it changes, the code at or below it and the code
 * above it. The kernel's lookup is then {@code bits > bound ? hi : lo}, and {@link #code(int)} is
 * that lookup in Java.
 *
 * <p>The table is derived from {@link QuantType#encode(float)} itself, not from a copy of its
 * thresholds, and a test holds {@link #code(int)} to the reference for every one of the 2^32
 * patterns, NaNs and infinities included.
 */
public final class CodeTable {
    /** Groups of bit patterns: the top 11 bits of a float. */
    public static final int GROUPS = 1 << 11;
    private static final int GROUP_SHIFT = 21;
    private static final int GROUP_MASK = (1 << GROUP_SHIFT) - 1;

    private final QuantType type;
    private final int[] bounds = new int[GROUPS];
    private final int[] lo = new int[GROUPS];
    private final int[] hi = new int[GROUPS];

    private CodeTable(QuantType type) {
        this.type = type;
        for (int g = 0; g < GROUPS; g++) {
            int first = g << GROUP_SHIFT;
            int last = first | GROUP_MASK;
            int low = encode(first);
            int high = encode(last);
            lo[g] = low;
            hi[g] = high;
            bounds[g] = low == high ? last : lastWithCode(first, last, low);
        }
    }

    public static CodeTable of(QuantType type) {
        return new CodeTable(type);
    }

    public QuantType type() {
        return type;
    }

    /** The code the kernel gives a scaled value with these float bits. */
    public int code(int bits) {
        int g = bits >>> GROUP_SHIFT;
        return Integer.compareUnsigned(bits, bounds[g]) > 0 ? hi[g] : lo[g];
    }

    /**
     * The table as the kernel reads it: 2048 bounds, then 2048 code words, each holding the low and
     * the high code as bytes 0 and 1 and again shifted into the high nibble as bytes 2 and 3.
     */
    public int[] words() {
        int[] w = new int[2 * GROUPS];
        for (int g = 0; g < GROUPS; g++) {
            w[g] = bounds[g];
            w[GROUPS + g] = lo[g] | hi[g] << 8 | lo[g] << 20 | hi[g] << 28;
        }
        return w;
    }

    private int encode(int bits) {
        return type.encode(Float.intBitsToFloat(bits));
    }

    /** The last pattern in [first, last] still coding as {@code code}, by bisection; checked to be a single step. */
    private int lastWithCode(int first, int last, int code) {
        long a = Integer.toUnsignedLong(first);
        long b = Integer.toUnsignedLong(last);
        // invariant: encode(a) == code, encode(b) != code
        while (b - a > 1) {
            long mid = (a + b) >>> 1;
            if (encode((int) mid) == code) {
                a = mid;
            } else {
                b = mid;
            }
        }
        int other = encode((int) b);
        if (other != encode(last)) {
            throw new IllegalStateException(type + ": the code changes more than once in group "
                    + Integer.toHexString(first >>> GROUP_SHIFT));
        }
        return (int) a;
    }
}
