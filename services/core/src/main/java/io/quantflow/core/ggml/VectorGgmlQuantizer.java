package io.quantflow.core.ggml;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API path of the k-quants' scale searches ({@code make_qkx2_quants} of Q4_K and Q5_K,
 * {@code make_qx_quants} of Q6_K), giving the same bytes as {@link ScalarGgmlQuantizer}.
 *
 * <p>The search cannot be split across its candidate scales: each candidate starts from the min the previous
 * improvement chose. So each lane takes one 32-value sub-block and runs the whole search for it, the lanes side by
 * side (8 sub-blocks, one super-block, in 256 bits; two super-blocks in 512 bits; Q6_K's 16-value sub-blocks
 * likewise). Every lane does the C code's float operations in the C code's order (the sums run over the values one
 * by one, as in C), and the branches become masks, so each lane's result is the scalar one bit for bit. The values
 * are transposed first, so that value {@code i} of every lane's sub-block is one vector. The passes over the values
 * are small methods of their own: inside one large method the JIT compiled them several times slower.
 */
final class VectorGgmlQuantizer extends ScalarGgmlQuantizer {
    private static final VectorSpecies<Float> F = GgmlVectorLanes.FLOAT;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED.withShape(F.vectorShape());
    private static final int LANES = F.length();

    // transposed sub-blocks: value i of lane j at [i * LANES + j]
    private final float[] xt = new float[32 * LANES];
    private final float[] wt = new float[32 * LANES];
    private final float[] lt = new float[32 * LANES];
    private final float[] laneScale = new float[LANES];
    private final float[] laneMin = new float[LANES];
    private final float[] laneIscale = new float[LANES];
    private final float[] laneLmin = new float[LANES];
    private final int[] laneL = new int[32 * LANES];

    // the search results of a whole row
    private float[] rowScales = new float[0];
    private float[] rowMins = new float[0];
    private byte[] rowL = new byte[0];
    private int rowStart;

    @Override
    void quantizeQ4_K(float[] x, int xo, int k, byte[] y, int yo) {
        searchRow(x, xo, k, 15, -1.f, 0.1f, 20);
        super.quantizeQ4_K(x, xo, k, y, yo);
    }

    @Override
    void quantizeQ5_K(float[] x, int xo, int k, byte[] y, int yo) {
        searchRow(x, xo, k, 31, -0.5f, 0.1f, 15);
        super.quantizeQ5_K(x, xo, k, y, yo);
    }

    @Override
    void quantizeQ6_K(float[] x, int xo, int k, byte[] y, int yo) {
        searchRowQ6(x, xo, k);
        super.quantizeQ6_K(x, xo, k, y, yo);
    }

    /** The searched scales and levels of the Q6_K super-block at {@code x[xb..]}, from {@link #searchRowQ6}. */
    @Override
    void searchQ6Scales(float[] x, int xb) {
        int sb = (xb - rowStart) / 16;
        System.arraycopy(rowScales, sb, scales, 0, QK_K / 16);
        System.arraycopy(rowL, xb - rowStart, bigL, 0, QK_K);
    }

    /** {@code make_qx_quants(16, 32, x, L, 1, NULL)} of every 16-value sub-block of {@code x[xo..xo+k)}, {@link #LANES} at a time. */
    private void searchRowQ6(float[] x, int xo, int k) {
        int subBlocks = k / 16;
        if (rowScales.length < subBlocks) {
            rowScales = new float[subBlocks];
            rowMins = new float[subBlocks];
        }
        if (rowL.length < k) {
            rowL = new byte[k];
        }
        rowStart = xo;
        for (int g = 0; g < subBlocks; g += LANES) {
            int lanes = Math.min(LANES, subBlocks - g);
            for (int j = 0; j < LANES; j++) {
                int src = xo + 16 * (g + j);
                for (int i = 0; i < 16; i++) {
                    xt[i * LANES + j] = j < lanes ? x[src + i] : 0f;
                }
            }
            searchLanesQ6();
            for (int j = 0; j < lanes; j++) {
                rowScales[g + j] = laneScale[j];
                int dst = 16 * (g + j);
                for (int i = 0; i < 16; i++) {
                    rowL[dst + i] = (byte) laneL[i * LANES + j];
                }
            }
        }
    }

    private static final IntVector Q6_LO = IntVector.broadcast(I, -32);
    private static final IntVector Q6_HI = IntVector.broadcast(I, 31);

    /** nearest_int, clamped to -32..31 (make_qx_quants with nmax 32). */
    private static IntVector signedLevels(FloatVector iscale, FloatVector x) {
        IntVector bits = iscale.mul(x).add(12582912.f).reinterpretAsInts();
        return bits.and(MANTISSA).sub(HALF).max(Q6_LO).min(Q6_HI);
    }

    /** {@code sum w*x*l} and {@code sum w*l*l} (w = x*x) of the levels of one candidate scale, into {@link #sums}. */
    private void q6Sums(FloatVector iscale) {
        FloatVector sumlx = FloatVector.zero(F);
        FloatVector suml2 = sumlx;
        for (int i = 0; i < 16; i++) {
            FloatVector xi = FloatVector.fromArray(F, xt, i * LANES);
            FloatVector l = toFloat(signedLevels(iscale, xi));
            FloatVector w = xi.mul(xi);
            sumlx = sumlx.add(w.mul(xi).mul(l));
            suml2 = suml2.add(w.mul(l).mul(l));
        }
        sumlx.intoArray(sums, 0);
        suml2.intoArray(sums, LANES);
    }

    /**
     * {@code make_qx_quants} with nmax 32, rmse_type 1 and no weights, one 16-value sub-block a lane, on the
     * transposed values in {@link #xt}: scales into {@link #laneScale}, levels (0..63) into {@link #laneL}.
     */
    private void searchLanesQ6() {
        FloatVector zero = FloatVector.zero(F);
        FloatVector max = zero;
        FloatVector amax = zero;
        for (int i = 0; i < 16; i++) {
            FloatVector xi = FloatVector.fromArray(F, xt, i * LANES);
            FloatVector ax = xi.abs();
            VectorMask<Float> above = ax.compare(VectorOperators.GT, amax);
            amax = amax.blend(ax, above);
            max = max.blend(xi, above);
        }
        VectorMask<Float> tiny = amax.compare(VectorOperators.LT, GROUP_MAX_EPS);
        FloatVector iscale = FloatVector.broadcast(F, (float) -32).div(max);
        q6Sums(iscale);
        FloatVector sumlx = FloatVector.fromArray(F, sums, 0);
        FloatVector suml2 = FloatVector.fromArray(F, sums, LANES);
        FloatVector scale = sumlx.div(suml2).blend(zero, suml2.compare(VectorOperators.EQ, zero));
        FloatVector best = scale.mul(sumlx);
        FloatVector lIscale = iscale;
        for (int is = -9; is <= 9; ++is) {
            if (is == 0) {
                continue;
            }
            FloatVector stepIscale = FloatVector.broadcast(F, -(32 + 0.1f * is)).div(max);
            q6Sums(stepIscale);
            sumlx = FloatVector.fromArray(F, sums, 0);
            suml2 = FloatVector.fromArray(F, sums, LANES);
            VectorMask<Float> better = suml2.compare(VectorOperators.GT, zero)
                    .and(sumlx.mul(sumlx).compare(VectorOperators.GT, best.mul(suml2)));
            if (!better.anyTrue()) {
                continue;
            }
            lIscale = lIscale.blend(stepIscale, better);
            scale = scale.blend(sumlx.div(suml2), better);
            best = best.blend(scale.mul(sumlx), better);
        }
        scale.blend(zero, tiny).intoArray(laneScale, 0);
        IntVector nmax = IntVector.broadcast(I, 32);
        VectorMask<Integer> tinyI = tiny.cast(I);
        for (int i = 0; i < 16; i++) {
            FloatVector xi = FloatVector.fromArray(F, xt, i * LANES);
            signedLevels(lIscale, xi).add(nmax).blend(ZERO, tinyI).intoArray(laneL, i * LANES);
        }
    }

    /** The searched scales, mins and levels of the super-block at {@code x[xb..]}, from {@link #searchRow}. */
    @Override
    void searchSubBlocks(float[] x, int xb, int nmax, float rmin, float rdelta, int nstep) {
        int sb = (xb - rowStart) / 32;
        System.arraycopy(rowScales, sb, scales, 0, QK_K / 32);
        System.arraycopy(rowMins, sb, mins, 0, QK_K / 32);
        System.arraycopy(rowL, xb - rowStart, bigL, 0, QK_K);
    }

    /** Runs the search of every 32-value sub-block of {@code x[xo..xo+k)}, {@link #LANES} at a time. */
    private void searchRow(float[] x, int xo, int k, int nmax, float rmin, float rdelta, int nstep) {
        int subBlocks = k / 32;
        if (rowScales.length < subBlocks) {
            rowScales = new float[subBlocks];
            rowMins = new float[subBlocks];
            rowL = new byte[k];
        }
        rowStart = xo;
        for (int g = 0; g < subBlocks; g += LANES) {
            int lanes = Math.min(LANES, subBlocks - g);
            for (int j = 0; j < LANES; j++) {
                int src = xo + 32 * (g + j);
                for (int i = 0; i < 32; i++) {
                    xt[i * LANES + j] = j < lanes ? x[src + i] : 0f;
                }
            }
            searchLanes(nmax, rmin, rdelta, nstep);
            for (int j = 0; j < lanes; j++) {
                rowScales[g + j] = laneScale[j];
                rowMins[g + j] = laneMin[j];
                int dst = 32 * (g + j);
                for (int i = 0; i < 32; i++) {
                    rowL[dst + i] = (byte) laneL[i * LANES + j];
                }
            }
        }
    }

    private static final IntVector MANTISSA = IntVector.broadcast(I, 0x007fffff);
    private static final IntVector HALF = IntVector.broadcast(I, 0x00400000);
    private static final IntVector ZERO = IntVector.zero(I);

    private final float[] sums = new float[3 * LANES];

    /** Pass 1 of a candidate scale: the levels of every value into {@link #lt}, their weighted sums into {@link #sums}. */
    private void stepSums(FloatVector stepIscale, FloatVector min, IntVector nmaxV) {
        FloatVector sumL = FloatVector.zero(F);
        FloatVector sumL2 = sumL;
        FloatVector sumXl = sumL;
        for (int i = 0; i < 32; i++) {
            FloatVector xi = FloatVector.fromArray(F, xt, i * LANES);
            FloatVector l = toFloat(levels(stepIscale, xi.sub(min), nmaxV));
            l.intoArray(lt, i * LANES);
            FloatVector wl = FloatVector.fromArray(F, wt, i * LANES).mul(l);
            sumL = sumL.add(wl);
            sumL2 = sumL2.add(wl.mul(l));
            sumXl = sumXl.add(wl.mul(xi));
        }
        sumL.intoArray(sums, 0);
        sumL2.intoArray(sums, LANES);
        sumXl.intoArray(sums, 2 * LANES);
    }

    /** Pass 2 of a candidate scale: its weighted squared error over the levels in {@link #lt}, into {@link #sums}. */
    private void stepError(FloatVector thisScale, FloatVector thisMin) {
        FloatVector curError = FloatVector.zero(F);
        for (int i = 0; i < 32; i++) {
            FloatVector xi = FloatVector.fromArray(F, xt, i * LANES);
            FloatVector l = FloatVector.fromArray(F, lt, i * LANES);
            FloatVector diff = thisScale.mul(l).add(thisMin).sub(xi);
            curError = curError.add(FloatVector.fromArray(F, wt, i * LANES).mul(diff.mul(diff)));
        }
        curError.intoArray(sums, 0);
    }

    private static IntVector levels(FloatVector iscale, FloatVector xMinusMin, IntVector nmax) {
        // nearest_int: add 1.5 * 2^23 and read the mantissa
        IntVector bits = iscale.mul(xMinusMin).add(12582912.f).reinterpretAsInts();
        return bits.and(MANTISSA).sub(HALF).max(ZERO).min(nmax);
    }

    private static FloatVector toFloat(IntVector l) {
        return (FloatVector) l.convertShape(VectorOperators.I2F, F, 0);
    }

    /**
     * The sub-block weights ({@code av_x + |x|}) and {@code make_qkx2_quants}, one sub-block a lane, on the transposed
     * values in {@link #xt}; results in {@link #laneScale}, {@link #laneMin} (the negated min) and {@link #laneL}.
     */
    private void searchLanes(int nmax, float rmin, float rdelta, int nstep) {
        IntVector nmaxV = IntVector.broadcast(I, nmax);
        // weights: av_x = sqrtf(sum_x2/32), w = av_x + |x|
        FloatVector sumX2 = FloatVector.zero(F);
        for (int i = 0; i < 32; i++) {
            FloatVector xi = FloatVector.fromArray(F, xt, i * LANES);
            sumX2 = sumX2.add(xi.mul(xi));
        }
        FloatVector avX = sumX2.div(32f).lanewise(VectorOperators.SQRT);
        for (int i = 0; i < 32; i++) {
            avX.add(FloatVector.fromArray(F, xt, i * LANES).abs()).intoArray(wt, i * LANES);
        }

        FloatVector x0 = FloatVector.fromArray(F, xt, 0);
        FloatVector min = x0;
        FloatVector max = x0;
        FloatVector sumW = FloatVector.fromArray(F, wt, 0);
        FloatVector sumX = sumW.mul(x0);
        for (int i = 1; i < 32; i++) {
            FloatVector xi = FloatVector.fromArray(F, xt, i * LANES);
            FloatVector w = FloatVector.fromArray(F, wt, i * LANES);
            min = min.blend(xi, xi.compare(VectorOperators.LT, min));
            max = max.blend(xi, xi.compare(VectorOperators.GT, max));
            sumW = sumW.add(w);
            sumX = sumX.add(w.mul(xi));
        }
        FloatVector zero = FloatVector.zero(F);
        min = min.blend(zero, min.compare(VectorOperators.GT, zero));
        VectorMask<Float> flat = max.compare(VectorOperators.EQ, min);

        FloatVector range = max.sub(min);
        FloatVector iscale = FloatVector.broadcast(F, (float) nmax).div(range);
        FloatVector scale = FloatVector.broadcast(F, 1f).div(iscale);
        FloatVector bestError = zero;
        for (int i = 0; i < 32; i++) {
            FloatVector xi = FloatVector.fromArray(F, xt, i * LANES);
            FloatVector l = toFloat(levels(iscale, xi.sub(min), nmaxV));
            FloatVector diff = scale.mul(l).add(min).sub(xi);
            bestError = bestError.add(FloatVector.fromArray(F, wt, i * LANES).mul(diff.mul(diff)));
        }
        // the levels are those of (lIscale, lMin): recomputed once at the end, as the C code copies Laux
        FloatVector lIscale = iscale;
        FloatVector lMin = min;
        for (int is = 0; is <= nstep; ++is) {
            float numerator = rmin + rdelta * is + nmax;
            FloatVector stepIscale = FloatVector.broadcast(F, numerator).div(max.sub(min));
            stepSums(stepIscale, min, nmaxV);
            FloatVector sumL = FloatVector.fromArray(F, sums, 0);
            FloatVector sumL2 = FloatVector.fromArray(F, sums, LANES);
            FloatVector sumXl = FloatVector.fromArray(F, sums, 2 * LANES);
            FloatVector d = sumW.mul(sumL2).sub(sumL.mul(sumL));
            VectorMask<Float> positive = d.compare(VectorOperators.GT, zero);
            if (!positive.anyTrue()) {
                continue;
            }
            FloatVector thisScale = sumW.mul(sumXl).sub(sumX.mul(sumL)).div(d);
            FloatVector thisMin = sumL2.mul(sumX).sub(sumL.mul(sumXl)).div(d);
            VectorMask<Float> minAbove = thisMin.compare(VectorOperators.GT, zero);
            thisMin = thisMin.blend(zero, minAbove);
            thisScale = thisScale.blend(sumXl.div(sumL2), minAbove);
            stepError(thisScale, thisMin);
            FloatVector curError = FloatVector.fromArray(F, sums, 0);
            VectorMask<Float> better = positive.and(curError.compare(VectorOperators.LT, bestError));
            bestError = bestError.blend(curError, better);
            scale = scale.blend(thisScale, better);
            lIscale = lIscale.blend(stepIscale, better);
            lMin = lMin.blend(min, better);
            min = min.blend(thisMin, better);
        }
        scale = scale.blend(zero, flat);
        min.neg().intoArray(laneMin, 0);
        scale.intoArray(laneScale, 0);
        IntVector flatInts = IntVector.zero(I);
        VectorMask<Integer> flatI = flat.cast(I);
        for (int i = 0; i < 32; i++) {
            FloatVector xi = FloatVector.fromArray(F, xt, i * LANES);
            levels(lIscale, xi.sub(lMin), nmaxV).blend(flatInts, flatI).intoArray(laneL, i * LANES);
        }
    }
}
