package io.quantflow.core.quality;

import java.util.Arrays;

/**
 * How many blocks of a quantized tensor have an outlier absmax: larger than {@link #FACTOR} times the
 * median absmax of the tensor. Such a block holds a value far larger than the rest of its tensor; its
 * other values then fall on the few codes near zero, which is where 4-bit quantization loses most.
 *
 * <p>The median is the lower one ({@code sorted[(count - 1) / 2]}), found by selection on a copy in
 * linear time; the absmax array itself is left as it is.
 */
public final class AbsmaxOutliers {
    /** A block's absmax above this many times the median makes it an outlier block. */
    public static final float FACTOR = 8f;

    private AbsmaxOutliers() {
    }

    /** The result for one tensor. */
    public record Result(int blocks, int outlierBlocks, float medianAbsmax) {
        public double share() {
            return blocks == 0 ? 0 : (double) outlierBlocks / blocks;
        }
    }

    public static Result of(float[] absmax, int count) {
        if (count == 0) {
            return new Result(0, 0, 0f);
        }
        float[] copy = Arrays.copyOf(absmax, count);
        float median = select(copy, (count - 1) / 2);
        float limit = FACTOR * median;
        int outliers = 0;
        for (int i = 0; i < count; i++) {
            if (absmax[i] > limit) {
                outliers++;
            }
        }
        return new Result(count, outliers, median);
    }

    /** The k-th smallest (0-based) of {@code a} by quickselect (middle pivot, Hoare partition); reorders {@code a}. */
    static float select(float[] a, int k) {
        int lo = 0;
        int hi = a.length - 1;
        while (lo < hi) {
            float pivot = a[(lo + hi) >>> 1];
            int i = lo;
            int j = hi;
            while (i <= j) {
                while (Float.compare(a[i], pivot) < 0) {
                    i++;
                }
                while (Float.compare(a[j], pivot) > 0) {
                    j--;
                }
                if (i <= j) {
                    float t = a[i];
                    a[i] = a[j];
                    a[j] = t;
                    i++;
                    j--;
                }
            }
            if (k <= j) {
                hi = j;
            } else if (k >= i) {
                lo = i;
            } else {
                return a[k];
            }
        }
        return a[k];
    }
}
