package io.quantflow.core.format.ct;

import io.quantflow.core.quant.DtypeEncoding;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.safetensors.DType;

/**
 * NVFP4 quantization of groups of 16 values, in compressed-tensors' order of operations (the scalar reference).
 * The global scale of a weight (or of the weights that share it) is {@code dtype(dtype(1 / absmax) * 2688)} (Python's
 * {@code 2688.0 / tensor} is {@code tensor.reciprocal() * 2688.0}), 1 when that is not finite ({@code generate_gparam}, in the weight's dtype, then stored as float32). Each group's scale is
 * {@code fp8(min(448, global * dtype(absmax / 6)))} (float32 product), 0.125 where that is zero
 * ({@code calculate_qparams}); a value's code is the FP4 rounding of {@code clamp(x / (scale / global), -6, 6)},
 * both divisions in float32 ({@code _quantize}).
 */
public final class Nvfp4Groups {
    /** Values per group. */
    public static final int GROUP = 16;
    /** What a zero FP8 group scale becomes ({@code _get_dtype_eps(float8_e4m3fn)}). */
    static final float ZERO_SCALE = 0.125f;

    private Nvfp4Groups() {
    }

    /** The global scale of a weight (or fused weights) whose largest magnitude is {@code absmax}, in {@code dtype}. */
    public static float globalScale(float absmax, DType dtype) {
        float m = Math.max(absmax, Float.MIN_NORMAL);
        if (dtype == DType.F16) {
            // torch.finfo(float16).tiny
            m = Math.max(absmax, 0x1p-14f);
        }
        // 448.0 * 6.0 / tensor is Tensor.__rtruediv__: tensor.reciprocal() * 2688, each rounded to the dtype
        float g = DtypeEncoding.round(dtype, DtypeEncoding.round(dtype, 1f / m) * (Fp8E4m3.MAX * Fp4E2m1.MAX));
        return Float.isFinite(g) ? g : 1f;
    }

    /** The FP8 byte of a group's scale. */
    static int scaleByte(float groupAbsmax, float global, DType dtype) {
        float local = DtypeEncoding.round(dtype, groupAbsmax / Fp4E2m1.MAX);
        float s = Math.min(Fp8E4m3.MAX, global * local);
        int b = Fp8E4m3.encode(s);
        return Fp8E4m3.decode(b) == 0f ? Fp8E4m3.encode(ZERO_SCALE) : b;
    }

    /** The largest magnitude of each group of 16 of {@code x[off..off+n)} into {@code absmax[absOff..]}. */
    public static void absmax(float[] x, int off, int n, float[] absmax, int absOff) {
        for (int g = 0; g < n / GROUP; g++) {
            float m = 0f;
            for (int i = off + g * GROUP, end = i + GROUP; i < end; i++) {
                m = Math.max(m, Math.abs(x[i]));
            }
            absmax[absOff + g] = m;
        }
    }

    /**
     * Quantizes {@code n} values (whole groups) of {@code x} from {@code off}: packed codes (two a byte, the first
     * value in the low nibble) into {@code packed[packedOff..]}, group scales into {@code scales[scaleOff..]}, and the
     * error of the dequantized values ({@code dtype(fp4 * (scale / global))}) into {@code sums}.
     */
    public static void quantize(float[] x, int off, int n, float[] groupAbsmax, int absOff, float global, DType dtype,
                                byte[] packed, int packedOff, byte[] scales, int scaleOff, ErrorSums sums) {
        double se = 0;
        double sv = 0;
        float maxErr = 0f;
        for (int g = 0; g < n / GROUP; g++) {
            int sb = scaleByte(groupAbsmax[absOff + g], global, dtype);
            scales[scaleOff + g] = (byte) sb;
            float effective = Fp8E4m3.decode(sb) / global;
            int base = off + g * GROUP;
            for (int i = 0; i < GROUP; i += 2) {
                int lo = Fp4E2m1.code(clamp(x[base + i] / effective));
                int hi = Fp4E2m1.code(clamp(x[base + i + 1] / effective));
                packed[packedOff + (g * GROUP + i) / 2] = (byte) (lo | hi << 4);
                float d0 = DtypeEncoding.round(dtype, Fp4E2m1.value(lo) * effective);
                float d1 = DtypeEncoding.round(dtype, Fp4E2m1.value(hi) * effective);
                float v0 = x[base + i];
                float v1 = x[base + i + 1];
                double e0 = (double) d0 - v0;
                double e1 = (double) d1 - v1;
                se += e0 * e0 + e1 * e1;
                sv += (double) v0 * v0 + (double) v1 * v1;
                maxErr = Math.max(maxErr, Math.max(Math.abs(d0 - v0), Math.abs(d1 - v1)));
            }
        }
        sums.add(n, se, sv, maxErr);
    }

    private static float clamp(float v) {
        return Math.max(-Fp4E2m1.MAX, Math.min(Fp4E2m1.MAX, v));
    }
}
