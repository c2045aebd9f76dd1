package io.quantflow.core.merge;

import io.quantflow.core.quant.VectorLanes;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API path. Lanes run along the columns; each lane's rank loop is a chain of fused
 * multiply-adds in the same order as the reference, so it computes exactly {@link LoraDelta#at}.
 * The whole rows of a stretch are done a tile of four vectors of columns at a time, row after row,
 * so that the tile of the right factor ({@code rank x 4L} floats, 16 KB at rank 64 on 512-bit
 * vectors) stays in the L1 cache while the rows stream past it. The update is never materialised
 * beyond the tile.
 */
public final class VectorDeltaApplier implements DeltaApplier {
    private static final VectorSpecies<Float> F = VectorLanes.FLOAT;
    private static final int L = F.length();
    private static final int TILE = 4 * L;

    @Override
    public void apply(LoraDelta d, long first, int n, float[] w, int wOff) {
        int cols = d.cols();
        long end = first + n;
        // a partial first row, the whole rows, a partial last row
        long firstFull = (first + cols - 1) / cols * cols;
        long lastFull = end / cols * cols;
        if (firstFull >= lastFull) {
            rowSegments(d, first, end, w, wOff, first);
            return;
        }
        rowSegments(d, first, firstFull, w, wOff, first);
        fullRows(d, (int) (firstFull / cols), (int) ((lastFull - firstFull) / cols), w, wOff + (int) (firstFull - first));
        rowSegments(d, lastFull, end, w, wOff, first);
    }

    /** Rows {@code [row0, row0 + rows)} whole, the first at {@code w[off]}. */
    private static void fullRows(LoraDelta d, int row0, int rows, float[] w, int off) {
        int cols = d.cols();
        int rank = d.rank();
        float[] left = d.left();
        float[] right = d.right();
        FloatVector scale = FloatVector.broadcast(F, d.scale());
        int c = 0;
        for (; c + TILE <= cols; c += TILE) {
            int r = 0;
            // two rows at a time: eight independent fma chains hide the fma latency, and each load of
            // the right factor serves both rows
            for (; r + 2 <= rows; r += 2) {
                int l0 = (row0 + r) * rank;
                int l1 = l0 + rank;
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = FloatVector.zero(F);
                FloatVector a2 = FloatVector.zero(F);
                FloatVector a3 = FloatVector.zero(F);
                FloatVector b0 = FloatVector.zero(F);
                FloatVector b1 = FloatVector.zero(F);
                FloatVector b2 = FloatVector.zero(F);
                FloatVector b3 = FloatVector.zero(F);
                for (int k = 0; k < rank; k++) {
                    FloatVector x = FloatVector.broadcast(F, left[l0 + k]);
                    FloatVector y = FloatVector.broadcast(F, left[l1 + k]);
                    int at = k * cols + c;
                    FloatVector r0 = FloatVector.fromArray(F, right, at);
                    FloatVector r1 = FloatVector.fromArray(F, right, at + L);
                    FloatVector r2 = FloatVector.fromArray(F, right, at + 2 * L);
                    FloatVector r3 = FloatVector.fromArray(F, right, at + 3 * L);
                    a0 = r0.fma(x, a0);
                    a1 = r1.fma(x, a1);
                    a2 = r2.fma(x, a2);
                    a3 = r3.fma(x, a3);
                    b0 = r0.fma(y, b0);
                    b1 = r1.fma(y, b1);
                    b2 = r2.fma(y, b2);
                    b3 = r3.fma(y, b3);
                }
                store(w, off + r * cols + c, scale, a0, a1, a2, a3);
                store(w, off + (r + 1) * cols + c, scale, b0, b1, b2, b3);
            }
            for (; r < rows; r++) {
                int lrow = (row0 + r) * rank;
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = FloatVector.zero(F);
                FloatVector a2 = FloatVector.zero(F);
                FloatVector a3 = FloatVector.zero(F);
                for (int k = 0; k < rank; k++) {
                    FloatVector lk = FloatVector.broadcast(F, left[lrow + k]);
                    int at = k * cols + c;
                    a0 = FloatVector.fromArray(F, right, at).fma(lk, a0);
                    a1 = FloatVector.fromArray(F, right, at + L).fma(lk, a1);
                    a2 = FloatVector.fromArray(F, right, at + 2 * L).fma(lk, a2);
                    a3 = FloatVector.fromArray(F, right, at + 3 * L).fma(lk, a3);
                }
                store(w, off + r * cols + c, scale, a0, a1, a2, a3);
            }
        }
        if (c < cols) {
            for (int r = 0; r < rows; r++) {
                segment(d, row0 + r, c, cols, w, off + r * cols);
            }
        }
    }

    /** w[p..p+4L) += scale * (a0, a1, a2, a3). */
    private static void store(float[] w, int p, FloatVector scale, FloatVector a0, FloatVector a1, FloatVector a2, FloatVector a3) {
        FloatVector.fromArray(F, w, p).add(a0.mul(scale)).intoArray(w, p);
        FloatVector.fromArray(F, w, p + L).add(a1.mul(scale)).intoArray(w, p + L);
        FloatVector.fromArray(F, w, p + 2 * L).add(a2.mul(scale)).intoArray(w, p + 2 * L);
        FloatVector.fromArray(F, w, p + 3 * L).add(a3.mul(scale)).intoArray(w, p + 3 * L);
    }

    /** Elements {@code [from, to)} (not whole rows) of the weight, element {@code base} at {@code w[wOff]}. */
    private static void rowSegments(LoraDelta d, long from, long to, float[] w, int wOff, long base) {
        int cols = d.cols();
        long e = from;
        while (e < to) {
            int row = (int) (e / cols);
            int c0 = (int) (e % cols);
            int c1 = (int) Math.min(cols, c0 + (to - e));
            segment(d, row, c0, c1, w, wOff + (int) (e - base) - c0);
            e += c1 - c0;
        }
    }

    /** Columns {@code [c0, c1)} of one row whose column 0 is at {@code w[rowAt]}. */
    private static void segment(LoraDelta d, int row, int c0, int c1, float[] w, int rowAt) {
        int cols = d.cols();
        int rank = d.rank();
        float[] left = d.left();
        float[] right = d.right();
        float scale = d.scale();
        int lrow = row * rank;
        int c = c0;
        for (; c + L <= c1; c += L) {
            FloatVector acc = FloatVector.zero(F);
            for (int k = 0; k < rank; k++) {
                acc = FloatVector.fromArray(F, right, k * cols + c).fma(FloatVector.broadcast(F, left[lrow + k]), acc);
            }
            FloatVector.fromArray(F, w, rowAt + c).add(acc.mul(scale)).intoArray(w, rowAt + c);
        }
        for (; c < c1; c++) {
            float acc = 0f;
            for (int k = 0; k < rank; k++) {
                acc = Math.fma(left[lrow + k], right[k * cols + c], acc);
            }
            w[rowAt + c] = w[rowAt + c] + acc * scale;
        }
    }

    @Override
    public String name() {
        return "vector-" + F.vectorBitSize();
    }
}
