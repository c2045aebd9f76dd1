package io.quantflow.core.merge;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The Vector API applier against the scalar reference, bit for bit, on awkward shapes and stretches. */
class DeltaApplierTest {

    @ParameterizedTest(name = "rows={0} cols={1} r={2} fifo={3}")
    @CsvSource({"1, 1, 1, false", "3, 13, 2, false", "17, 207, 8, false", "33, 702, 16, true", "64, 1100, 64, false",
            "5, 4097, 3, true", "128, 64, 64, true"})
    void vectorEqualsScalar(int rows, int cols, int rank, boolean fanInFanOut) {
        Random rnd = new Random(rows * 31L + cols);
        // the layer's in/out as PEFT sees them; the stored weight is [out, in], or [in, out] with fan_in_fan_out
        int in = fanInFanOut ? rows : cols;
        int out = fanInFanOut ? cols : rows;
        float[] a = gaussian(rnd, rank * in, 0.05);
        float[] b = gaussian(rnd, out * rank, 0.05);
        LoraDelta d = LoraDelta.linear(a, b, rank, in, out, 16f / rank, fanInFanOut);
        assertEquals(rows, d.rows());
        assertEquals(cols, d.cols());
        float[] w = gaussian(rnd, rows * cols, 0.02);
        // whole tensor, then stretches that start and end mid-row
        int[][] stretches = {{0, rows * cols}, {1, Math.max(0, rows * cols - 2)}, {cols / 2, Math.min(rows * cols - cols / 2, cols + 3)}};
        for (int[] s : stretches) {
            float[] x = Arrays.copyOfRange(w, s[0], s[0] + s[1]);
            float[] y = x.clone();
            new ScalarDeltaApplier().apply(d, s[0], s[1], x, 0);
            new VectorDeltaApplier().apply(d, s[0], s[1], y, 0);
            assertArrayEquals(x, y, 0f);
            for (int i = 0; i < s[1]; i++) {
                int e = s[0] + i;
                assertEquals(w[e] + d.at(e / cols, e % cols), x[i], 0f);
            }
        }
    }

    @ParameterizedTest(name = "fifo={0}")
    @CsvSource({"false", "true"})
    void deltaIsScaleTimesBA(boolean fanInFanOut) {
        int in = 5;
        int out = 3;
        int rank = 2;
        float[] a = {1, 2, 3, 4, 5, -1, -2, -3, -4, -5};
        float[] b = {1, 0, 0, 1, 2, 3};
        LoraDelta d = LoraDelta.linear(a, b, rank, in, out, 0.5f, fanInFanOut);
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                float expected = (b[o * rank] * a[i] + b[o * rank + 1] * a[in + i]) * 0.5f;
                float actual = fanInFanOut ? d.at(i, o) : d.at(o, i);
                assertEquals(expected, actual, 0f, "o=" + o + " i=" + i);
            }
        }
    }

    static float[] gaussian(Random rnd, int n, double std) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) (rnd.nextGaussian() * std);
        }
        return f;
    }
}
