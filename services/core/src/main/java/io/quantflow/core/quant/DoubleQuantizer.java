package io.quantflow.core.quant;

/**
 * Double quantization of the per-block absmax values (bitsandbytes' {@code compress_statistics}):
 * offset = float32 mean of the absmax values; (absmax - offset) quantized blockwise to 8 bits with
 * blocksize 256 and the {@link DynamicMap signed dynamic map}.
 */
public final class DoubleQuantizer {
    public static final int NESTED_BLOCKSIZE = 256;
    /** Whether the codes are computed with the Vector API, as {@link VectorizationProvider} chose. */
    private static final boolean VECTOR = VectorizationProvider.get().vector();

    private DoubleQuantizer() {
    }

    /** The result: the offset, one code per absmax, and one float32 scale per 256 codes. */
    public record Result(float offset, byte[] codes, float[] nestedAbsmax) {
    }

    public static Result quantize(float[] absmax, int count) {
        return quantizeWithOffset(absmax, count, offset(absmax, count));
    }

    /** Double quantization around a given offset (to reproduce another implementation's codes from its offset). */
    public static Result quantizeWithOffset(float[] absmax, int count, float offset) {
        byte[] codes = new byte[count];
        float[] nestedAbsmax = new float[nestedBlocks(count)];
        quantizeNested(absmax, count, offset, 0, nestedAbsmax.length, codes, nestedAbsmax);
        return new Result(offset, codes, nestedAbsmax);
    }

    /** The name of the code encoder {@link #quantizeNested} uses ({@code scalar}, {@code vector-512}), for reports. */
    public static String encoderName() {
        return VECTOR ? VectorDynamicMap.name() : "scalar";
    }

    public static int nestedBlocks(int count) {
        return (count + NESTED_BLOCKSIZE - 1) / NESTED_BLOCKSIZE;
    }

    /**
     * Quantizes nested blocks {@code [from, to)} of {@code absmax - offset}. The codes go to
     * {@code codes[0..]} and the scales to {@code nestedAbsmax[0..]}, counted from the range's first
     * block, so that disjoint ranges can run on different threads with buffers of their own.
     */
    public static void quantizeNested(float[] absmax, int count, float offset, int from, int to,
                                      byte[] codes, float[] nestedAbsmax) {
        for (int b = from; b < to; b++) {
            int start = b * NESTED_BLOCKSIZE;
            int len = Math.min(NESTED_BLOCKSIZE, count - start);
            float m = 0f;
            for (int i = 0; i < len; i++) {
                float a = Math.abs(absmax[start + i] - offset);
                if (a > m) {
                    m = a;
                }
            }
            nestedAbsmax[b - from] = m;
            float inv = BnbReciprocal.of(m);
            int base = start - from * NESTED_BLOCKSIZE;
            if (VECTOR) {
                VectorDynamicMap.encode(absmax, start, len, offset, inv, codes, base);
            } else {
                for (int i = 0; i < len; i++) {
                    codes[base + i] = (byte) DynamicMap.encode((absmax[start + i] - offset) * inv);
                }
            }
        }
    }

    /** The double-quant offset: the float32 mean of the absmax values. */
    public static float offset(float[] absmax, int count) {
        return mean(absmax, count);
    }

    /**
     * The float32 mean, summed in double and rounded once. bitsandbytes sums on the GPU in float32 in
     * an order of its own, so the last bit may differ from its value; compare with a relative tolerance.
     */
    static float mean(float[] values, int count) {
        double sum = 0;
        for (int i = 0; i < count; i++) {
            sum += values[i];
        }
        return (float) (sum / count);
    }

    /** What bitsandbytes dequantizes an absmax back to: code value x nested scale + offset. */
    public static float dequantizeAbsmax(Result r, int i) {
        return DynamicMap.value(r.codes()[i]) * r.nestedAbsmax()[i / NESTED_BLOCKSIZE] + r.offset();
    }
}
