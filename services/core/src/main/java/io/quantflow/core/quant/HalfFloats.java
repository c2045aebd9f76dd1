package io.quantflow.core.quant;

import io.quantflow.core.safetensors.DType;

/**
 * Decoding little-endian BF16, F16 and F32 bytes to float32 (exact: every value is representable).
 *
 * <p>{@link #decode} is the fast entry point: BF16, the dtype of most checkpoints, goes through the
 * Vector API where {@link VectorizationProvider} chose it. {@link #decodeScalar} is the reference it is tested against bit for bit; both keep NaN
 * payloads, since a bf16 value is the upper half of its float32.
 */
public final class HalfFloats {
    private static final boolean VECTOR_BF16 = VectorizationProvider.get().vector();

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

    /**
     * Encodes {@code n} floats as little-endian {@code dtype} into {@code dst[dstOff..]}: rounded to
     * nearest, ties to even, overflowing to infinity; every NaN becomes the type's quiet NaN with
     * the sign bit clear (bf16 0x7fc0, f16 0x7e00, f32 0x7fc00000), as the GPU kernels write it.
     */
    public static void encode(DType dtype, float[] src, int srcOff, int n, byte[] dst, int dstOff) {
        for (int i = 0; i < n; i++) {
            float f = src[srcOff + i];
            switch (dtype) {
                case BF16 -> put16(dst, dstOff + 2 * i, toBf16(f));
                case F16 -> put16(dst, dstOff + 2 * i, Float.isNaN(f) ? 0x7e00 : Float.floatToFloat16(f) & 0xFFFF);
                case F32 -> {
                    int bits = Float.isNaN(f) ? 0x7fc00000 : Float.floatToRawIntBits(f);
                    int p = dstOff + 4 * i;
                    dst[p] = (byte) bits;
                    dst[p + 1] = (byte) (bits >>> 8);
                    dst[p + 2] = (byte) (bits >>> 16);
                    dst[p + 3] = (byte) (bits >>> 24);
                }
                default -> throw new IllegalArgumentException("cannot encode " + dtype);
            }
        }
    }

    /** float32 to bf16 bits, rounded to nearest even; NaN to 0x7fc0. */
    public static int toBf16(float f) {
        int b = Float.floatToRawIntBits(f);
        if ((b & 0x7fffffff) > 0x7f800000) {
            return 0x7fc0;
        }
        return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xFFFF;
    }

    private static void put16(byte[] dst, int p, int v) {
        dst[p] = (byte) v;
        dst[p + 1] = (byte) (v >>> 8);
    }
}
