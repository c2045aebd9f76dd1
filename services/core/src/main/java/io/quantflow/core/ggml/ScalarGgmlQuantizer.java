package io.quantflow.core.ggml;

import static io.quantflow.core.ggml.GgmlFloats.cvtt;
import static io.quantflow.core.ggml.GgmlFloats.fp16ToFp32;
import static io.quantflow.core.ggml.GgmlFloats.fp32ToFp16;
import static io.quantflow.core.ggml.GgmlFloats.getShort;
import static io.quantflow.core.ggml.GgmlFloats.nearestInt;
import static io.quantflow.core.ggml.GgmlFloats.putShort;
import static io.quantflow.core.ggml.GgmlFloats.roundf;

/**
 * The reference: ggml's {@code quantize_row_*_ref} functions of {@code ggml/src/ggml-quants.c} (what
 * {@code llama-quantize} runs without an importance matrix), ported statement by statement, in float where the C code
 * computes in float and in the same order, so that the bytes are ggml's. Plain loops, one value at a time; the
 * Vector API path ({@link VectorGgmlQuantizer}) is tested against this one.
 *
 * <p>Not thread-safe: each instance owns its scratch arrays. {@link GgmlQuantizers} keeps one per thread.
 */
class ScalarGgmlQuantizer {
    static final int QK_K = GgmlType.QK_K;
    static final float GROUP_MAX_EPS = 1e-15f;

    // scratch of one super-block
    final byte[] bigL = new byte[QK_K];
    final byte[] laux = new byte[32];
    final float[] weights = new float[32];
    final float[] mins = new float[QK_K / 16];
    final float[] scales = new float[QK_K / 16];
    /** The {@code *the_min} out-parameter of make_qkx2_quants. */
    float theMin;

    // ---------------------------------------------------------------- Q8_0, Q4_0

    void quantizeQ8_0(float[] x, int xo, int k, byte[] y, int yo) {
        int nb = k / 32;
        for (int i = 0; i < nb; i++) {
            int xb = xo + i * 32;
            int yb = yo + i * 34;
            float amax = 0.0f;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(x[xb + j]));
            }
            float d = amax / ((1 << 7) - 1);
            float id = d != 0 ? 1.0f / d : 0.0f;
            putShort(y, yb, fp32ToFp16(d));
            for (int j = 0; j < 32; ++j) {
                float x0 = x[xb + j] * id;
                y[yb + 2 + j] = (byte) cvtt(roundf(x0));
            }
        }
    }

    void quantizeQ4_0(float[] x, int xo, int k, byte[] y, int yo) {
        int nb = k / 32;
        for (int i = 0; i < nb; i++) {
            int xb = xo + i * 32;
            int yb = yo + i * 18;
            float amax = 0.0f;
            float max = 0.0f;
            for (int j = 0; j < 32; j++) {
                float v = x[xb + j];
                if (amax < Math.abs(v)) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            float d = max / -8;
            float id = d != 0 ? 1.0f / d : 0.0f;
            putShort(y, yb, fp32ToFp16(d));
            for (int j = 0; j < 16; ++j) {
                float x0 = x[xb + j] * id;
                float x1 = x[xb + 16 + j] * id;
                int xi0 = Math.min(15, (byte) cvtt(x0 + 8.5f));
                int xi1 = Math.min(15, (byte) cvtt(x1 + 8.5f));
                y[yb + 2 + j] = (byte) ((xi0 & 0xFF) | ((xi1 & 0xFF) << 4));
            }
        }
    }

    void quantizeQ5_0(float[] x, int xo, int k, byte[] y, int yo) {
        int nb = k / 32;
        for (int i = 0; i < nb; i++) {
            int xb = xo + i * 32;
            int yb = yo + i * 22;
            float amax = 0.0f;
            float max = 0.0f;
            for (int j = 0; j < 32; j++) {
                float v = x[xb + j];
                if (amax < Math.abs(v)) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            float d = max / -16;
            float id = d != 0 ? 1.0f / d : 0.0f;
            putShort(y, yb, fp32ToFp16(d));
            int qh = 0;
            for (int j = 0; j < 16; ++j) {
                float x0 = x[xb + j] * id;
                float x1 = x[xb + 16 + j] * id;
                int xi0 = Math.min(31, (byte) cvtt(x0 + 16.5f)) & 0xFF;
                int xi1 = Math.min(31, (byte) cvtt(x1 + 16.5f)) & 0xFF;
                y[yb + 6 + j] = (byte) ((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                qh |= ((xi0 & 0x10) >>> 4) << j;
                qh |= ((xi1 & 0x10) >>> 4) << (j + 16);
            }
            GgmlFloats.putInt(y, yb + 2, qh);
        }
    }

    void quantizeQ5_1(float[] x, int xo, int k, byte[] y, int yo) {
        int nb = k / 32;
        for (int i = 0; i < nb; i++) {
            int xb = xo + i * 32;
            int yb = yo + i * 24;
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            for (int j = 0; j < 32; j++) {
                float v = x[xb + j];
                if (v < min) {
                    min = v;
                }
                if (v > max) {
                    max = v;
                }
            }
            float d = (max - min) / ((1 << 5) - 1);
            float id = d != 0 ? 1.0f / d : 0.0f;
            putShort(y, yb, fp32ToFp16(d));
            putShort(y, yb + 2, fp32ToFp16(min));
            int qh = 0;
            for (int j = 0; j < 16; ++j) {
                float x0 = (x[xb + j] - min) * id;
                float x1 = (x[xb + 16 + j] - min) * id;
                int xi0 = cvtt(x0 + 0.5f) & 0xFF;
                int xi1 = cvtt(x1 + 0.5f) & 0xFF;
                y[yb + 8 + j] = (byte) ((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                qh |= ((xi0 & 0x10) >>> 4) << j;
                qh |= ((xi1 & 0x10) >>> 4) << (j + 16);
            }
            GgmlFloats.putInt(y, yb + 4, qh);
        }
    }

    // ---------------------------------------------------------------- helpers of the k-quants

    /**
     * {@code make_qkx2_quants}: the scale and min of {@code n} values at {@code x[xo..]} with levels {@code 0..nmax},
     * searched over {@code nstep + 1} candidate scales; the levels go to {@code L[lo..]}, the min (negated) to
     * {@link #theMin}; returns the scale.
     */
    float makeQkx2Quants(int n, int nmax, float[] x, int xo, float[] weights, byte[] L, int lo,
            float rmin, float rdelta, int nstep, boolean useMad) {
        float min = x[xo];
        float max = x[xo];
        float sumW = weights[0];
        float sumX = sumW * x[xo];
        for (int i = 1; i < n; ++i) {
            float xi = x[xo + i];
            if (xi < min) {
                min = xi;
            }
            if (xi > max) {
                max = xi;
            }
            float w = weights[i];
            sumW += w;
            sumX += w * xi;
        }
        if (min > 0) {
            min = 0;
        }
        if (max == min) {
            for (int i = 0; i < n; ++i) {
                L[lo + i] = 0;
            }
            theMin = -min;
            return 0.f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearestInt(iscale * (x[xo + i] - min));
            l = Math.max(0, Math.min(nmax, l));
            L[lo + i] = (byte) l;
            float diff = scale * l + min - x[xo + i];
            diff = useMad ? Math.abs(diff) : diff * diff;
            bestError += weights[i] * diff;
        }
        if (nstep < 1) {
            theMin = -min;
            return scale;
        }
        byte[] aux = laux;
        for (int is = 0; is <= nstep; ++is) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0;
            float sumL2 = 0;
            float sumXl = 0;
            for (int i = 0; i < n; ++i) {
                int l = nearestInt(iscale * (x[xo + i] - min));
                l = Math.max(0, Math.min(nmax, l));
                aux[i] = (byte) l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXl += w * l * x[xo + i];
            }
            float D = sumW * sumL2 - sumL * sumL;
            if (D > 0) {
                float thisScale = (sumW * sumXl - sumX * sumL) / D;
                float thisMin = (sumL2 * sumX - sumL * sumXl) / D;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXl / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; ++i) {
                    float diff = thisScale * aux[i] + thisMin - x[xo + i];
                    diff = useMad ? Math.abs(diff) : diff * diff;
                    curError += weights[i] * diff;
                }
                if (curError < bestError) {
                    System.arraycopy(aux, 0, L, lo, n);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin = -min;
        return scale;
    }

    /** {@code make_qx_quants} with {@code rmse_type} 1 and no importance weights (what Q6_K's reference uses). */
    static float makeQxQuants1(int n, int nmax, float[] x, int xo, byte[] L, int lo) {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; ++i) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; ++i) {
                L[lo + i] = 0;
            }
            return 0.f;
        }
        float iscale = -nmax / max;
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; ++i) {
            float xi = x[xo + i];
            int l = nearestInt(iscale * xi);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            L[lo + i] = (byte) (l + nmax);
            float w = xi * xi;
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        float best = scale * sumlx;
        for (int is = -9; is <= 9; ++is) {
            if (is == 0) {
                continue;
            }
            iscale = -(nmax + 0.1f * is) / max;
            sumlx = suml2 = 0;
            for (int i = 0; i < n; ++i) {
                float xi = x[xo + i];
                int l = nearestInt(iscale * xi);
                l = Math.max(-nmax, Math.min(nmax - 1, l));
                float w = xi * xi;
                sumlx += w * xi * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; ++i) {
                    int l = nearestInt(iscale * x[xo + i]);
                    L[lo + i] = (byte) (nmax + Math.max(-nmax, Math.min(nmax - 1, l)));
                }
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /** {@code get_scale_min_k4}: the 6-bit scale (low 8 bits of the result) and min (bits 8..15) of sub-block j. */
    static int scaleMinK4(int j, byte[] q, int qo) {
        int d;
        int m;
        if (j < 4) {
            d = q[qo + j] & 63;
            m = q[qo + j + 4] & 63;
        } else {
            d = (q[qo + j + 4] & 0xF) | (((q[qo + j - 4] & 0xFF) >> 6) << 4);
            m = ((q[qo + j + 4] & 0xFF) >> 4) | (((q[qo + j] & 0xFF) >> 6) << 4);
        }
        return d | m << 8;
    }

    // ---------------------------------------------------------------- Q4_K, Q5_K

    /**
     * The scales and mins of the eight 32-value sub-blocks of one super-block at {@code x[xb..]}, as
     * {@code quantize_row_q4_K_ref} and {@code quantize_row_q5_K_ref} search them; into {@link #scales} and
     * {@link #mins}, the levels into {@link #bigL}. The vector path overrides this.
     */
    void searchSubBlocks(float[] x, int xb, int nmax, float rmin, float rdelta, int nstep) {
        float[] w = weights;
        for (int j = 0; j < QK_K / 32; ++j) {
            int xj = xb + 32 * j;
            float sumX2 = 0;
            for (int l = 0; l < 32; ++l) {
                sumX2 += x[xj + l] * x[xj + l];
            }
            float avX = (float) Math.sqrt(sumX2 / 32);
            for (int l = 0; l < 32; ++l) {
                w[l] = avX + Math.abs(x[xj + l]);
            }
            scales[j] = makeQkx2Quants(32, nmax, x, xj, w, bigL, 32 * j, rmin, rdelta, nstep, false);
            mins[j] = theMin;
        }
    }

    /** The common part of Q4_K and Q5_K: scales, d, dmin and the levels in {@link #bigL}; returns nothing. */
    private void quantizeKBlock(float[] x, int xb, byte[] y, int yb, int nmax, float rmin, float rdelta, int nstep) {
        searchSubBlocks(x, xb, nmax, rmin, rdelta, nstep);
        float maxScale = 0;
        float maxMin = 0;
        for (int j = 0; j < QK_K / 32; ++j) {
            float scale = scales[j];
            if (scale > maxScale) {
                maxScale = scale;
            }
            float min = mins[j];
            if (min > maxMin) {
                maxMin = min;
            }
        }
        float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
        float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
        int so = yb + 4;
        for (int j = 0; j < QK_K / 32; ++j) {
            int ls = nearestInt(invScale * scales[j]) & 0xFF;
            int lm = nearestInt(invMin * mins[j]) & 0xFF;
            ls = Math.min(63, ls);
            lm = Math.min(63, lm);
            if (j < 4) {
                y[so + j] = (byte) ls;
                y[so + j + 4] = (byte) lm;
            } else {
                y[so + j + 4] = (byte) ((ls & 0xF) | ((lm & 0xF) << 4));
                y[so + j - 4] |= (byte) ((ls >> 4) << 6);
                y[so + j] |= (byte) ((lm >> 4) << 6);
            }
        }
        short dh = fp32ToFp16(maxScale / 63.f);
        short dminh = fp32ToFp16(maxMin / 63.f);
        putShort(y, yb, dh);
        putShort(y, yb + 2, dminh);
        float dAll = fp16ToFp32(dh);
        float dminAll = fp16ToFp32(dminh);
        for (int j = 0; j < QK_K / 32; ++j) {
            int sm = scaleMinK4(j, y, so);
            float d = dAll * (sm & 0xFF);
            if (d == 0) {
                continue;
            }
            float dm = dminAll * (sm >>> 8);
            int xj = xb + 32 * j;
            for (int ii = 0; ii < 32; ++ii) {
                int l = nearestInt((x[xj + ii] + dm) / d);
                l = Math.max(0, Math.min(nmax, l));
                bigL[32 * j + ii] = (byte) l;
            }
        }
    }

    void quantizeQ4_K(float[] x, int xo, int k, byte[] y, int yo) {
        int nb = k / QK_K;
        byte[] L = bigL;
        for (int i = 0; i < nb; i++) {
            int xb = xo + i * QK_K;
            int yb = yo + i * 144;
            quantizeKBlock(x, xb, y, yb, 15, -1.f, 0.1f, 20);
            int q = yb + 16;
            for (int j = 0; j < QK_K; j += 64) {
                for (int l = 0; l < 32; ++l) {
                    y[q + l] = (byte) (L[j + l] | (L[j + l + 32] << 4));
                }
                q += 32;
            }
        }
    }

    void quantizeQ5_K(float[] x, int xo, int k, byte[] y, int yo) {
        int nb = k / QK_K;
        byte[] L = bigL;
        for (int i = 0; i < nb; i++) {
            int xb = xo + i * QK_K;
            int yb = yo + i * 176;
            quantizeKBlock(x, xb, y, yb, 31, -0.5f, 0.1f, 15);
            int qh = yb + 16;
            int ql = yb + 48;
            for (int j = 0; j < 32; j++) {
                y[qh + j] = 0;
            }
            int m1 = 1;
            int m2 = 2;
            for (int n = 0; n < QK_K; n += 64) {
                for (int j = 0; j < 32; ++j) {
                    int l1 = L[n + j];
                    if (l1 > 15) {
                        l1 -= 16;
                        y[qh + j] |= (byte) m1;
                    }
                    int l2 = L[n + j + 32];
                    if (l2 > 15) {
                        l2 -= 16;
                        y[qh + j] |= (byte) m2;
                    }
                    y[ql + j] = (byte) (l1 | (l2 << 4));
                }
                m1 <<= 2;
                m2 <<= 2;
                ql += 32;
            }
        }
    }

    // ---------------------------------------------------------------- Q6_K

    /** The scales of the sixteen 16-value sub-blocks of a Q6_K super-block into {@link #scales}, levels into {@link #bigL}. */
    void searchQ6Scales(float[] x, int xb) {
        for (int ib = 0; ib < QK_K / 16; ++ib) {
            scales[ib] = makeQxQuants1(16, 32, x, xb + 16 * ib, bigL, 16 * ib);
        }
    }

    void quantizeQ6_K(float[] x, int xo, int k, byte[] y, int yo) {
        int nb = k / QK_K;
        byte[] L = bigL;
        for (int i = 0; i < nb; i++) {
            int xb = xo + i * QK_K;
            int yb = yo + i * 210;
            searchQ6Scales(x, xb);
            float maxScale = 0;
            float maxAbsScale = 0;
            for (int ib = 0; ib < QK_K / 16; ++ib) {
                float scale = scales[ib];
                float absScale = Math.abs(scale);
                if (absScale > maxAbsScale) {
                    maxAbsScale = absScale;
                    maxScale = scale;
                }
            }
            if (maxAbsScale < GROUP_MAX_EPS) {
                for (int b = 0; b < 210; b++) {
                    y[yb + b] = 0;
                }
                putShort(y, yb + 208, fp32ToFp16(0.f));
                continue;
            }
            int sc = yb + 192;
            float iscale = -128.f / maxScale;
            short dh = fp32ToFp16(1 / iscale);
            putShort(y, yb + 208, dh);
            for (int ib = 0; ib < QK_K / 16; ++ib) {
                y[sc + ib] = (byte) Math.min(127, nearestInt(iscale * scales[ib]));
            }
            float dAll = fp16ToFp32(dh);
            for (int j = 0; j < QK_K / 16; ++j) {
                float d = dAll * y[sc + j];
                if (d == 0) {
                    continue;
                }
                int xj = xb + 16 * j;
                for (int ii = 0; ii < 16; ++ii) {
                    int l = nearestInt(x[xj + ii] / d);
                    l = Math.max(-32, Math.min(31, l));
                    L[16 * j + ii] = (byte) (l + 32);
                }
            }
            int ql = yb;
            int qh = yb + 128;
            for (int j = 0; j < QK_K; j += 128) {
                for (int l = 0; l < 32; ++l) {
                    int q1 = L[j + l] & 0xF;
                    int q2 = L[j + l + 32] & 0xF;
                    int q3 = L[j + l + 64] & 0xF;
                    int q4 = L[j + l + 96] & 0xF;
                    y[ql + l] = (byte) (q1 | (q3 << 4));
                    y[ql + l + 32] = (byte) (q2 | (q4 << 4));
                    y[qh + l] = (byte) ((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4)
                            | ((L[j + l + 96] >> 4) << 6));
                }
                ql += 64;
                qh += 32;
            }
        }
    }

    // ---------------------------------------------------------------- dequantization (ggml's dequantize_row_*)

    static void dequantizeQ8_0(byte[] x, int xo, int k, float[] y, int yo) {
        for (int i = 0; i < k / 32; i++) {
            int b = xo + i * 34;
            float d = fp16ToFp32(getShort(x, b));
            for (int j = 0; j < 32; ++j) {
                y[yo + i * 32 + j] = x[b + 2 + j] * d;
            }
        }
    }

    static void dequantizeQ4_0(byte[] x, int xo, int k, float[] y, int yo) {
        for (int i = 0; i < k / 32; i++) {
            int b = xo + i * 18;
            float d = fp16ToFp32(getShort(x, b));
            for (int j = 0; j < 16; ++j) {
                int q = x[b + 2 + j] & 0xFF;
                y[yo + i * 32 + j] = ((q & 0x0F) - 8) * d;
                y[yo + i * 32 + j + 16] = ((q >> 4) - 8) * d;
            }
        }
    }

    static void dequantizeQ5_0(byte[] x, int xo, int k, float[] y, int yo) {
        for (int i = 0; i < k / 32; i++) {
            int b = xo + i * 22;
            float d = fp16ToFp32(getShort(x, b));
            int qh = GgmlFloats.getInt(x, b + 2);
            for (int j = 0; j < 16; ++j) {
                int xh0 = ((qh >>> j) << 4) & 0x10;
                int xh1 = (qh >>> (j + 12)) & 0x10;
                int q = x[b + 6 + j] & 0xFF;
                y[yo + i * 32 + j] = (((q & 0x0F) | xh0) - 16) * d;
                y[yo + i * 32 + j + 16] = (((q >> 4) | xh1) - 16) * d;
            }
        }
    }

    static void dequantizeQ5_1(byte[] x, int xo, int k, float[] y, int yo) {
        for (int i = 0; i < k / 32; i++) {
            int b = xo + i * 24;
            float d = fp16ToFp32(getShort(x, b));
            float m = fp16ToFp32(getShort(x, b + 2));
            int qh = GgmlFloats.getInt(x, b + 4);
            for (int j = 0; j < 16; ++j) {
                int xh0 = ((qh >>> j) << 4) & 0x10;
                int xh1 = (qh >>> (j + 12)) & 0x10;
                int q = x[b + 8 + j] & 0xFF;
                y[yo + i * 32 + j] = ((q & 0x0F) | xh0) * d + m;
                y[yo + i * 32 + j + 16] = ((q >> 4) | xh1) * d + m;
            }
        }
    }

    static void dequantizeQ4_K(byte[] x, int xo, int k, float[] y, int yo) {
        for (int i = 0; i < k / QK_K; i++) {
            int b = xo + i * 144;
            float d = fp16ToFp32(getShort(x, b));
            float min = fp16ToFp32(getShort(x, b + 2));
            int q = b + 16;
            int out = yo + i * QK_K;
            int is = 0;
            for (int j = 0; j < QK_K; j += 64) {
                int sm = scaleMinK4(is, x, b + 4);
                float d1 = d * (sm & 0xFF);
                float m1 = min * (sm >>> 8);
                sm = scaleMinK4(is + 1, x, b + 4);
                float d2 = d * (sm & 0xFF);
                float m2 = min * (sm >>> 8);
                for (int l = 0; l < 32; ++l) {
                    y[out++] = d1 * (x[q + l] & 0xF) - m1;
                }
                for (int l = 0; l < 32; ++l) {
                    y[out++] = d2 * ((x[q + l] & 0xFF) >> 4) - m2;
                }
                q += 32;
                is += 2;
            }
        }
    }

    static void dequantizeQ5_K(byte[] x, int xo, int k, float[] y, int yo) {
        for (int i = 0; i < k / QK_K; i++) {
            int b = xo + i * 176;
            float d = fp16ToFp32(getShort(x, b));
            float min = fp16ToFp32(getShort(x, b + 2));
            int qh = b + 16;
            int ql = b + 48;
            int out = yo + i * QK_K;
            int is = 0;
            int u1 = 1;
            int u2 = 2;
            for (int j = 0; j < QK_K; j += 64) {
                int sm = scaleMinK4(is, x, b + 4);
                float d1 = d * (sm & 0xFF);
                float m1 = min * (sm >>> 8);
                sm = scaleMinK4(is + 1, x, b + 4);
                float d2 = d * (sm & 0xFF);
                float m2 = min * (sm >>> 8);
                for (int l = 0; l < 32; ++l) {
                    y[out++] = d1 * ((x[ql + l] & 0xF) + ((x[qh + l] & u1) != 0 ? 16 : 0)) - m1;
                }
                for (int l = 0; l < 32; ++l) {
                    y[out++] = d2 * (((x[ql + l] & 0xFF) >> 4) + ((x[qh + l] & u2) != 0 ? 16 : 0)) - m2;
                }
                ql += 32;
                is += 2;
                u1 <<= 2;
                u2 <<= 2;
            }
        }
    }

    static void dequantizeQ6_K(byte[] x, int xo, int k, float[] y, int yo) {
        for (int i = 0; i < k / QK_K; i++) {
            int b = xo + i * 210;
            float d = fp16ToFp32(getShort(x, b + 208));
            int ql = b;
            int qh = b + 128;
            int sc = b + 192;
            int out = yo + i * QK_K;
            for (int n = 0; n < QK_K; n += 128) {
                for (int l = 0; l < 32; ++l) {
                    int is = l / 16;
                    int h = x[qh + l] & 0xFF;
                    int q1 = ((x[ql + l] & 0xF) | (((h >> 0) & 3) << 4)) - 32;
                    int q2 = ((x[ql + l + 32] & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                    int q3 = (((x[ql + l] & 0xFF) >> 4) | (((h >> 4) & 3) << 4)) - 32;
                    int q4 = (((x[ql + l + 32] & 0xFF) >> 4) | (((h >> 6) & 3) << 4)) - 32;
                    y[out + l] = d * x[sc + is] * q1;
                    y[out + l + 32] = d * x[sc + is + 2] * q2;
                    y[out + l + 64] = d * x[sc + is + 4] * q3;
                    y[out + l + 96] = d * x[sc + is + 6] * q4;
                }
                out += 128;
                ql += 64;
                qh += 32;
                sc += 8;
            }
        }
    }
}
