package io.quantflow.core.format.ct;

import io.quantflow.core.quant.DtypeEncoding;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.quant.VectorLanes;
import io.quantflow.core.safetensors.DType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Fp8Tiles} through the Vector API, for bf16 and f32 weights (f16 goes to the reference): the same bytes and
 * scales (the division, the rounding to bf16, the clamp and PyTorch's float32-to-e4m3fn rounding are done lane-wise
 * with the same integer steps), the same error sums up to their summation order. Only loaded when the
 * {@code VectorizationProvider} chose vector code.
 */
final class VectorFp8Tiles {
    private static final VectorSpecies<Float> F = VectorLanes.FLOAT;
    private static final VectorSpecies<Integer> I = F.withLanes(int.class);
    private static final int L = F.length();
    private static final float MIN_NORMAL = 0x1p-6f;
    private static final float DENORM_MAGIC = Float.intBitsToFloat(141 << 23);

    private VectorFp8Tiles() {
    }

    static String name() {
        return "vector-" + F.vectorBitSize();
    }

    static void quantize(float[] x, int rows, int cols, int tileRows, int tileCols, DType dtype,
                         byte[] q, float[] absmax, float[] scales, ErrorSums sums) {
        if (dtype != DType.BF16 && dtype != DType.F32) {
            Fp8Tiles.quantize(x, rows, cols, tileRows, tileCols, dtype, q, absmax, scales, sums);
            return;
        }
        boolean bf16 = dtype == DType.BF16;
        int[] codes = new int[L];
        int tilesPerRow = (cols + tileCols - 1) / tileCols;
        double se = 0;
        double sv = 0;
        float maxErr = 0f;
        for (int r0 = 0, band = 0; r0 < rows; r0 += tileRows, band++) {
            int r1 = Math.min(rows, r0 + tileRows);
            for (int t = 0; t < tilesPerRow; t++) {
                int c0 = t * tileCols;
                int c1 = Math.min(cols, c0 + tileCols);
                float m = 0f;
                for (int r = r0; r < r1; r++) {
                    m = Math.max(m, absmax(x, r * cols + c0, r * cols + c1));
                }
                float s = Fp8Tiles.scale(m, dtype);
                int tile = band * tilesPerRow + t;
                absmax[tile] = m;
                scales[tile] = s;
                double[] acc = new double[3];
                for (int r = r0; r < r1; r++) {
                    int i = r * cols + c0;
                    int end = r * cols + c1;
                    int vecEnd = i + (end - i) / L * L;
                    if (vecEnd > i) {
                        row(x, i, vecEnd, s, bf16, q, codes, acc);
                    }
                    for (i = vecEnd; i < end; i++) {
                        float v = x[i];
                        float d = DtypeEncoding.round(dtype, v / s);
                        d = Math.max(-Fp8E4m3.MAX, Math.min(Fp8E4m3.MAX, d));
                        int b = Fp8E4m3.encode(d);
                        q[i] = (byte) b;
                        float deq = DtypeEncoding.round(dtype, Fp8E4m3.decode(b) * s);
                        double e = (double) deq - v;
                        se += e * e;
                        sv += (double) v * v;
                        maxErr = Math.max(maxErr, Math.abs(deq - v));
                    }
                }
                se += acc[0];
                sv += acc[1];
                maxErr = Math.max(maxErr, (float) acc[2]);
            }
        }
        sums.add((long) rows * cols, se, sv, maxErr);
    }

    /**
     * Values {@code [from, to)} (a whole number of vectors) of one row of a tile with scale {@code s}: codes into
     * {@code q}, the squared error, squared values and largest error added to {@code acc}. A small method of its own,
     * which the JIT compiles with every lane operation intrinsified (inside the tile loop it did not).
     */
    private static void row(float[] x, int from, int to, float s, boolean bf16, byte[] q, int[] codes, double[] acc) {
        FloatVector vs = FloatVector.broadcast(F, s);
        FloatVector e2 = FloatVector.zero(F);
        FloatVector v2 = FloatVector.zero(F);
        FloatVector emax = FloatVector.zero(F);
        for (int i = from; i < to; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, i);
            FloatVector d = v.div(vs);
            if (bf16) {
                d = roundBf16(d);
            }
            d = d.max(-Fp8E4m3.MAX).min(Fp8E4m3.MAX);
            IntVector code = encode(d);
            code.intoArray(codes, 0);
            for (int k = 0; k < L; k++) {
                q[i + k] = (byte) codes[k];
            }
            FloatVector deq = value(d).mul(vs);
            if (bf16) {
                deq = roundBf16(deq);
            }
            FloatVector e = deq.sub(v);
            e2 = e.fma(e, e2);
            v2 = v.fma(v, v2);
            emax = emax.max(e.abs());
        }
        acc[0] += e2.reduceLanes(VectorOperators.ADD);
        acc[1] += v2.reduceLanes(VectorOperators.ADD);
        acc[2] = Math.max(acc[2], emax.reduceLanes(VectorOperators.MAX));
    }

    /** PyTorch's float32-to-e4m3fn byte of each lane (|d| <= 448). */
    private static IntVector encode(FloatVector d) {
        IntVector bits = d.reinterpretAsInts();
        IntVector sign = bits.and(0x80000000);
        IntVector abs = bits.lanewise(VectorOperators.XOR, sign);
        VectorMask<Integer> sub = abs.compare(VectorOperators.LT, 121 << 23);
        // normal: round the mantissa to 3 bits, ties to even
        IntVector normal = abs.add(abs.lanewise(VectorOperators.LSHR, 20).and(1)).add(0x7FFFF + ((7 - 127) << 23))
                .lanewise(VectorOperators.LSHR, 20).and(0xff);
        // subnormal: the float adder rounds the bits below 2^-9
        IntVector subnormal = abs.reinterpretAsFloats().add(DENORM_MAGIC).reinterpretAsInts().sub(141 << 23).and(0xff);
        return normal.blend(subnormal, sub).or(sign.lanewise(VectorOperators.LSHR, 24));
    }

    /** The e4m3fn value each lane rounds to (|d| <= 448), as a float. */
    private static FloatVector value(FloatVector d) {
        IntVector bits = d.reinterpretAsInts();
        IntVector sign = bits.and(0x80000000);
        FloatVector a = d.abs();
        IntVector abs = a.reinterpretAsInts();
        FloatVector normal = abs.add(abs.lanewise(VectorOperators.LSHR, 20).and(1)).add(0x7FFFF).and(0xFFF00000).reinterpretAsFloats();
        FloatVector subnormal = a.add(DENORM_MAGIC).sub(DENORM_MAGIC);
        return normal.blend(subnormal, a.compare(VectorOperators.LT, MIN_NORMAL)).reinterpretAsInts().or(sign).reinterpretAsFloats();
    }

    private static float absmax(float[] x, int from, int to) {
        FloatVector m = FloatVector.zero(F);
        int i = from;
        for (; i + L <= to; i += L) {
            m = m.max(FloatVector.fromArray(F, x, i).abs());
        }
        float r = m.reduceLanes(VectorOperators.MAX);
        for (; i < to; i++) {
            r = Math.max(r, Math.abs(x[i]));
        }
        return r;
    }

    /** Rounds each lane to the nearest bf16 (ties to even), as {@code DtypeEncoding.round(BF16, x)} for finite x. */
    private static FloatVector roundBf16(FloatVector v) {
        IntVector b = v.reinterpretAsInts();
        IntVector lsb = b.lanewise(VectorOperators.LSHR, 16).and(1);
        return b.add(lsb).add(0x7FFF).and(0xFFFF0000).reinterpretAsFloats();
    }
}
