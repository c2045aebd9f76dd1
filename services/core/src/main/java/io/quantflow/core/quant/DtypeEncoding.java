package io.quantflow.core.quant;

import io.quantflow.core.safetensors.DType;

import java.nio.ByteOrder;

/**
 * Rounding float32 values to BF16/F16 and writing them as little-endian bytes: the one rounding a
 * merged weight goes through (round to nearest, ties to even, as PyTorch's casts do). NaN stays NaN
 * (quiet), infinities stay infinite.
 */
public final class DtypeEncoding {
    private DtypeEncoding() {
    }

    /** The value of {@code dtype} nearest to {@code x}, as a float32. */
    public static float round(DType dtype, float x) {
        return switch (dtype) {
            case BF16 -> Float.intBitsToFloat(bf16Bits(x) << 16);
            case F16 -> Float.float16ToFloat(Float.floatToFloat16(x));
            case F32 -> x;
            default -> throw new IllegalArgumentException("cannot round to " + dtype);
        };
    }

    private static final boolean VECTOR_BF16 =
            Quantizers.fallbackReason() == null && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    /** Rounds {@code v[off..off+n)} in place (BF16 through the Vector API where it is enabled). */
    public static void round(DType dtype, float[] v, int off, int n) {
        if (dtype == DType.BF16 && VECTOR_BF16) {
            VectorHalfFloats.roundBf16(v, off, n);
        } else {
            roundScalar(dtype, v, off, n);
        }
    }

    /** The reference of {@link #round(DType, float[], int, int)}: one element at a time. */
    public static void roundScalar(DType dtype, float[] v, int off, int n) {
        if (dtype == DType.F32) {
            return;
        }
        for (int i = off; i < off + n; i++) {
            v[i] = round(dtype, v[i]);
        }
    }

    /** Writes {@code v[off..off+n)} as {@code dtype} (rounding as {@link #round}) into {@code dst[dstOff..]}. */
    public static void encode(DType dtype, float[] v, int off, int n, byte[] dst, int dstOff) {
        if (dtype == DType.BF16 && VECTOR_BF16) {
            VectorHalfFloats.encodeBf16(v, off, n, dst, dstOff);
        } else {
            encodeScalar(dtype, v, off, n, dst, dstOff);
        }
    }

    /** The reference of {@link #encode}: one element at a time. */
    public static void encodeScalar(DType dtype, float[] v, int off, int n, byte[] dst, int dstOff) {
        switch (dtype) {
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    int b = bf16Bits(v[off + i]);
                    dst[dstOff + 2 * i] = (byte) b;
                    dst[dstOff + 2 * i + 1] = (byte) (b >>> 8);
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    short h = Float.floatToFloat16(v[off + i]);
                    dst[dstOff + 2 * i] = (byte) h;
                    dst[dstOff + 2 * i + 1] = (byte) (h >>> 8);
                }
            }
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    int b = Float.floatToRawIntBits(v[off + i]);
                    int p = dstOff + 4 * i;
                    dst[p] = (byte) b;
                    dst[p + 1] = (byte) (b >>> 8);
                    dst[p + 2] = (byte) (b >>> 16);
                    dst[p + 3] = (byte) (b >>> 24);
                }
            }
            default -> throw new IllegalArgumentException("cannot encode " + dtype);
        }
    }

    /** The 16 bf16 bits of x, rounded to nearest even; NaN becomes a quiet NaN with its sign. */
    static int bf16Bits(float x) {
        int bits = Float.floatToRawIntBits(x);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            return (bits >>> 16) | 0x0040;
        }
        return (bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16;
    }
}
