package io.quantflow.core.quant;

/**
 * The vector path's code lookup for finite scaled values with |x| <= 1 + 2^-23 (what a block with a
 * finite, non-zero absmax and a finite reciprocal gives). A value {@code v} (x for nf4, |x| for fp4)
 * falls in bucket {@code r = round(v * scale + c)}, computed as the low 4 bits of
 * {@code fma(v, scale, 2^23 + c)} (a float in [2^23, 2^23 + 16), whose ulp is 1). Buckets are
 * narrower than the gap between decision thresholds, so a bucket holds at most two of them (nf4) or
 * one (fp4), and a value's code is the bucket's base code plus a step for each of the bucket's
 * thresholds it exceeds: the same {@code v > t} comparisons as the decision tree, with the same
 * float thresholds, hence the same codes.
 *
 * <p>The tables are derived at start-up from the actual bucket of every boundary value (by
 * bisection over float bit patterns) and from {@link QuantType#encode}; a test holds
 * {@link #code(float)} to the decision tree for every float in the range. Codes are stored as
 * the float bits of {@code 2^23 + code}, so that adding steps in float keeps the code in the low bits.
 */
final class CodeBuckets {
    static final int SIZE = 16;
    private static final float TWO_23 = 8388608f;
    /** Largest |x * (1/absmax)| for a finite, non-zero absmax with a finite reciprocal. */
    static final float LIMIT = Math.nextUp(1.0f + 0x1p-23f);

    private final QuantType type;
    private final float scale;
    private final float magic;
    private final int[] base = new int[SIZE];
    private final int[] t1 = new int[SIZE];
    private final int[] t2 = new int[SIZE];
    private final int[] step = new int[SIZE];

    private CodeBuckets(QuantType type) {
        this.type = type;
        boolean sm = type.signMagnitude();
        // nf4: x in [-1, 1] to buckets 1..15, width 0.135 (thresholds are >= 0.080 apart, 3 span >= 0.166);
        // fp4: |x| in [0, 1] to buckets 0..14, width 0.069 (thresholds are >= 0.083 apart)
        this.scale = sm ? 14.4f : 7.4f;
        float c = sm ? 0f : 8f;
        this.magic = TWO_23 + c;
        float lo = sm ? 0f : -LIMIT;
        float hi = LIMIT;
        if (bucket(lo) < 0 || bucket(hi) >= SIZE) {
            throw new IllegalStateException(type + ": buckets out of range");
        }
        float[] th = type.thresholds();
        for (int r = 0; r < SIZE; r++) {
            base[r] = Float.floatToRawIntBits(TWO_23);
            t1[r] = t2[r] = Float.floatToRawIntBits(Float.POSITIVE_INFINITY);
            step[r] = Float.floatToRawIntBits(0f);
            if (r < bucket(lo) || r > bucket(hi)) {
                continue;
            }
            float first = firstAtLeast(r, lo, hi);
            float last = firstAtLeast(r + 1, lo, hi);
            last = r + 1 > bucket(hi) ? hi : Math.nextDown(last);
            // thresholds t with first <= t < last: values of the bucket fall on both sides
            int inside = 0;
            float[] ts = new float[2];
            for (float t : th) {
                if (first <= t && t < last) {
                    if (inside == (sm ? 1 : 2)) {
                        throw new IllegalStateException(type + ": too many thresholds in bucket " + r);
                    }
                    ts[inside++] = t;
                }
            }
            int baseCode = encode(first);
            base[r] = Float.floatToRawIntBits(TWO_23 + baseCode);
            if (inside > 0) {
                t1[r] = Float.floatToRawIntBits(ts[0]);
                step[r] = Float.floatToRawIntBits((float) (encode(Math.nextUp(ts[0])) - baseCode));
            }
            if (inside > 1) {
                t2[r] = Float.floatToRawIntBits(ts[1]);
            }
        }
    }

    static CodeBuckets of(QuantType type) {
        return new CodeBuckets(type);
    }

    private int encode(float v) {
        return type.encode(v);
    }

    /** The bucket of v, as the vector code computes it. */
    int bucket(float v) {
        return (int) (Math.fma(v, scale, magic) - TWO_23);
    }

    /** The smallest float in [lo, hi] whose bucket is at least r (the bucket is monotone in v). */
    private float firstAtLeast(int r, float lo, float hi) {
        long a = key(lo);
        long b = key(hi);
        if (bucket(lo) >= r) {
            return lo;
        }
        // bucket(a) < r <= bucket(b), or none in range: then hi
        if (bucket(hi) < r) {
            return hi;
        }
        while (b - a > 1) {
            long mid = (a + b) >>> 1;
            if (bucket(fromKey(mid)) >= r) {
                b = mid;
            } else {
                a = mid;
            }
        }
        return fromKey(b);
    }

    private static long key(float f) {
        int bits = Float.floatToRawIntBits(f);
        return bits >= 0 ? (long) bits + 0x80000000L : 0x80000000L - 1 - (bits & 0x7FFFFFFF);
    }

    private static float fromKey(long k) {
        return k >= 0x80000000L ? Float.intBitsToFloat((int) (k - 0x80000000L))
                : Float.intBitsToFloat((int) (0x80000000L - 1 - k) | 0x80000000);
    }

    /** The lookup as the vector code does it, one value at a time (for tests). */
    int code(float x) {
        boolean sm = type.signMagnitude();
        float v = sm ? Math.abs(x) : x;
        int r = Float.floatToRawIntBits(Math.fma(v, scale, magic)) & (SIZE - 1);
        float code = Float.intBitsToFloat(base[r]);
        if (v > Float.intBitsToFloat(t1[r])) {
            code += sm ? Float.intBitsToFloat(step[r]) : 1f;
        }
        if (v > Float.intBitsToFloat(t2[r])) {
            code += 1f;
        }
        if (sm && x < 0f) {
            code += 8f;
        }
        return Float.floatToRawIntBits(code) & 0xF;
    }

    boolean signMagnitude() {
        return type.signMagnitude();
    }

    float scale() {
        return scale;
    }

    float magic() {
        return magic;
    }

    int[] baseBits() {
        return base.clone();
    }

    int[] t1Bits() {
        return t1.clone();
    }

    int[] t2Bits() {
        return t2.clone();
    }

    int[] stepBits() {
        return step.clone();
    }
}
