package io.quantflow.core.merge;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API path: for each row segment, lanes run along the columns and the rank loop is a
 * chain of lane-wise fused multiply-adds with the row's factor broadcast, in the same order as the
 * reference, so each lane computes exactly {@link LoraDelta#at}. The update of a row is never
 * materialised beyond one vector.
 */
public final class VectorDeltaApplier implements DeltaApplier {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();

    @Override
    public void apply(LoraDelta d, long first, int n, float[] w, int wOff) {
        int cols = d.cols();
        int rank = d.rank();
        float[] left = d.left();
        float[] right = d.right();
        float scale = d.scale();
        long e = first;
        long end = first + n;
        while (e < end) {
            int row = (int) (e / cols);
            int c0 = (int) (e % cols);
            int c1 = (int) Math.min(cols, c0 + (end - e));
            int base = wOff + (int) (e - first) - c0;
            int lrow = row * rank;
            int c = c0;
            for (; c + L <= c1; c += L) {
                FloatVector acc = FloatVector.zero(F);
                for (int k = 0; k < rank; k++) {
                    acc = FloatVector.fromArray(F, right, k * cols + c).fma(FloatVector.broadcast(F, left[lrow + k]), acc);
                }
                FloatVector x = FloatVector.fromArray(F, w, base + c);
                x.add(acc.mul(scale)).intoArray(w, base + c);
            }
            for (; c < c1; c++) {
                float acc = 0f;
                for (int k = 0; k < rank; k++) {
                    acc = Math.fma(left[lrow + k], right[k * cols + c], acc);
                }
                w[base + c] = w[base + c] + acc * scale;
            }
            e += c1 - c0;
        }
    }

    @Override
    public String name() {
        return "vector-" + F.vectorBitSize();
    }
}
