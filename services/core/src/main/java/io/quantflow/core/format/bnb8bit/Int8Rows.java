package io.quantflow.core.format.bnb8bit;

import io.quantflow.core.quant.BnbReciprocal;
import io.quantflow.core.quant.DtypeEncoding;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.safetensors.DType;

/**
 * LLM.int8 row-wise quantization as bitsandbytes' {@code Int8Params._quantize} does it: the weight cast to float16,
 * each row's absmax ({@code SCB}, float32), {@code q = round(h * (127 / absmax))}, where Python's {@code 127.0 / absmax} is
 * {@code absmax.reciprocal() * 127.0}, all in float32 and rounding half to even ({@code int8_vectorwise_quant}, its CPU reference in
 * {@code backends/default/ops.py}); the CUDA kernel divides with {@code __fdividef}, which with bitsandbytes' fast-math
 * build is 127 times the GPU's approximate reciprocal: conversions follow the GPU (what transformers on CUDA saves),
 * the CPU reference is kept for the tests (scripts/reference/bnb8bit_reference.py's {@code gpu} mode checks the GPU
 * on a CUDA machine). A zero row (0 * inf) gives 0.
 */
public final class Int8Rows {
    /** bitsandbytes' {@code 1/127} of the dequantization ({@code 7.874015718698502e-3} as float32). */
    static final float INV127 = 7.874015718698502e-3f;

    private Int8Rows() {
    }

    /**
     * Quantizes {@code rows} rows of {@code cols} values of {@code x} (in {@code dtype}) into {@code q}, their absmax
     * into {@code scb[scbOff..]}, and adds the error of the dequantized values ({@code dtype(q * SCB / 127)}) to
     * {@code sums}.
     */
    public static void quantize(float[] x, int rows, int cols, DType dtype, byte[] q, float[] scb, int scbOff, ErrorSums sums) {
        quantize(x, rows, cols, dtype, true, q, scb, scbOff, sums);
    }

    /**
     * @param gpu whether {@code 127 / absmax} is the CUDA kernel's {@code __fdividef} (with bitsandbytes' fast-math
     *            build: 127 times the GPU's approximate reciprocal, {@link BnbReciprocal}) or the CPU reference's
     *            ({@code absmax.reciprocal() * 127.0}, correctly rounded)
     */
    public static void quantize(float[] x, int rows, int cols, DType dtype, boolean gpu, byte[] q, float[] scb, int scbOff,
                                ErrorSums sums) {
        double se = 0;
        double sv = 0;
        float maxErr = 0f;
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            float m = 0f;
            for (int i = base; i < base + cols; i++) {
                m = Math.max(m, Math.abs(half(x[i])));
            }
            scb[scbOff + r] = m;
            // 127.0 / tensor is Tensor.__rtruediv__: the reciprocal, then the product, each rounded to float32
            float scale = (gpu ? BnbReciprocal.of(m) : 1f / m) * 127f;
            for (int i = base; i < base + cols; i++) {
                float p = half(x[i]) * scale;
                int c = Float.isNaN(p) ? 0 : (int) Math.rint(p);
                c = Math.max(-128, Math.min(127, c));
                q[i] = (byte) c;
                float deq = DtypeEncoding.round(dtype, c * m * INV127);
                float v = x[i];
                double e = (double) deq - v;
                se += e * e;
                sv += (double) v * v;
                maxErr = Math.max(maxErr, Math.abs(deq - v));
            }
        }
        sums.add((long) rows * cols, se, sv, maxErr);
    }

    /** {@code x} as float16 ({@code .to(torch.float16)}: nearest, ties to even, overflowing to infinity). */
    static float half(float x) {
        return Float.float16ToFloat(Float.floatToFloat16(x));
    }
}
