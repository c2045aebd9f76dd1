package io.quantflow.core.quant;

import io.quantflow.core.safetensors.DType;

/** Decoding little-endian BF16, F16 and F32 bytes to float32 (exact: every value is representable). */
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
}
