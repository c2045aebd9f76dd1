package io.quantflow.core.merge;

/** The reference: one element at a time, by {@link LoraDelta#at}. */
public final class ScalarDeltaApplier implements DeltaApplier {

    @Override
    public void apply(LoraDelta d, long first, int n, float[] w, int wOff) {
        for (int i = 0; i < n; i++) {
            long e = first + i;
            int row = (int) (e / d.cols());
            int col = (int) (e % d.cols());
            w[wOff + i] = w[wOff + i] + d.at(row, col);
        }
    }

    @Override
    public String name() {
        return "scalar";
    }
}
