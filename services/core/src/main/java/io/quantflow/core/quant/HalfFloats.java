package io.quantflow.core.quant;

import io.quantflow.core.safetensors.DType;

import java.nio.ByteOrder;

/**
 * Decoding little-endian BF16, F16 and F32 bytes to float32 (exact: every value is representable).
 *
 * <p>{@link #decode} is the fast entry point: BF16, the dtype of most checkpoints, goes through the
 * Vector API where {@link Quantizers} uses it (same probe, same fallback reason) on a little-endian
 * machine. {@link #decodeScalar} is the reference it is tested against bit for bit; both keep NaN
 * payloads, since a bf16 value is the upper half of its float32.
 */
public final class HalfFloats {
    private static final boolean VECTOR_BF16 =
            Quantizers.fallbackReason() == null && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    private HalfFloats() {
    }

    /** Decodes {@code n} elements of {@code dtype} from {@code src[srcOff..]} into {@code dst[dstOff..]}. */
    public static void decode(DType dtype, byte[] src, int srcOff, int n, float[] dst, int dstOff) {
        if (dtype == DType.BF16 && VECTOR_BF16) {
            VectorHalfFloats.decodeBf16(src, srcOff, n, dst, dstOff);
        } else {
            decodeScalar(dtype, src, srcOff, n, dst, dstOff);
        }
    }

    /** The name of the BF16 decoder {@link #decode} uses ({@code scalar}, {@code vector-512}), for reports. */
    public static String bf16DecoderName() {
        return VECTOR_BF16 ? VectorHalfFloats.name() : "scalar";
    }

    /** The reference: plain loops, one element at a time. Same contract and results as {@link #decode}. */
    public static void decodeScalar(DType dtype, byte[] src, int srcOff, int n, float[] dst, int dstOff) {
        switch (dtype) {
            case BF16 -> decodeBf16Scalar(src, srcOff, n, dst, dstOff);
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

    static void decodeBf16Scalar(byte[] src, int srcOff, int n, float[] dst, int dstOff) {
        for (int i = 0; i < n; i++) {
            int lo = src[srcOff + 2 * i] & 0xFF;
            int hi = src[srcOff + 2 * i + 1] & 0xFF;
            dst[dstOff + i] = Float.intBitsToFloat((hi << 24) | (lo << 16));
        }
    }
}
