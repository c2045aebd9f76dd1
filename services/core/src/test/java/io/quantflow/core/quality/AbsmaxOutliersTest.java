package io.quantflow.core.quality;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

class AbsmaxOutliersTest {
    @Test
    void medianIsTheLowerMiddleOfTheSortedValues() {
        Random rnd = new Random(1);
        for (int n : new int[] {1, 2, 3, 4, 17, 64, 1000, 1001}) {
            for (int rep = 0; rep < 20; rep++) {
                float[] a = new float[n];
                for (int i = 0; i < n; i++) {
                    a[i] = rnd.nextInt(5) == 0 ? 0.5f : rnd.nextFloat(); // duplicates too
                }
                float[] sorted = a.clone();
                Arrays.sort(sorted);
                float[] before = a.clone();
                assertEquals(sorted[(n - 1) / 2], AbsmaxOutliers.of(a, n).medianAbsmax(), "n=" + n);
                assertEquals(Arrays.toString(before), Arrays.toString(a), "the absmax values are left as they were");
            }
        }
    }

    @Test
    void countsBlocksAboveEightTimesTheMedian() {
        float[] a = {1, 1, 1, 1, 8, 8.001f, 100, 1};
        AbsmaxOutliers.Result r = AbsmaxOutliers.of(a, a.length);
        assertEquals(1f, r.medianAbsmax());
        assertEquals(2, r.outlierBlocks());
        assertEquals(0.25, r.share());
        assertEquals(0, AbsmaxOutliers.of(new float[0], 0).blocks());
    }
}
