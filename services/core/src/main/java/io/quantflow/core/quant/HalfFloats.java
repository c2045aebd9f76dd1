package io.quantflow.core.quant;

import io.quantflow.core.safetensors.DType;

/**
 * Decoding little-endian BF16, F16 and F32 bytes to float32 (exact: every value is representable),
 * and rounding float32 values to BF16/F16 precision as PyTorch and CUDA convert them.
 */
public final class HalfFloats {
    private HalfFloats() {
    }

    /** Decodes {@code n} elements of {@code dtype} from {@code src[srcOff..]} into {@code dst[dstOff..]}. */
    public static void decode(DType dtype, byte[] src, int srcOff, int n, float[] dst, int dstOff) {
        switch (dtype) {
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    int lo = src[srcOff + 2 * i] & 0xFF;
                    int hi = src[srcOff + 2 * i + 1] & 0xFF;
                    dst[dstOff + i] = Float.intBitsToFloat((hi << 24) | (lo << 16));
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    int lo = src[srcOff + 2 * i] & 0xFF;
                    int hi = src[srcOff + 2 * i + 1] & 0xFF;
                    dst[dstOff + i] = Float.float16ToFloat((short) (hi << 8 | lo));
                }
            }
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    int p = srcOff + 4 * i;
                    int bits = (src[p] & 0xFF) | (src[p + 1] & 0xFF) << 8 | (src[p + 2] & 0xFF) << 16 | (src[p + 3] & 0xFF) << 24;
                    dst[dstOff + i] = Float.intBitsToFloat(bits);
                }
            }
            default -> throw new IllegalArgumentException("cannot decode " + dtype);
        }
    }

    /**
     * {@code x} rounded to the nearest bfloat16, ties to even, returned as a float32: what
     * {@code tensor.to(torch.bfloat16)} and CUDA's {@code __float2bfloat16} give. Infinities stay
     * infinite, values past the largest bfloat16 round to infinity, NaN stays NaN.
     */
    public static float roundToBf16(float x) {
        if (x != x) {
            return x;
        }
        int bits = Float.floatToRawIntBits(x);
        bits += 0x7FFF + ((bits >>> 16) & 1);
        return Float.intBitsToFloat(bits & 0xFFFF0000);
    }

    /** {@code x} rounded to the nearest IEEE half (ties to even, subnormals kept), returned as a float32. */
    public static float roundToF16(float x) {
        return Float.float16ToFloat(Float.floatToFloat16(x));
    }

    /** {@code x} rounded to the precision of {@code dtype} (BF16, F16; F32 returns it unchanged). */
    public static float round(DType dtype, float x) {
        return switch (dtype) {
            case BF16 -> roundToBf16(x);
            case F16 -> roundToF16(x);
            case F32 -> x;
            default -> throw new IllegalArgumentException("cannot round to " + dtype);
        };
    }
}
