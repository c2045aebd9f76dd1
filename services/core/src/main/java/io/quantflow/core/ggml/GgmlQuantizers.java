package io.quantflow.core.ggml;

/**
 * Quantizes float32 rows into ggml's block layouts and back, giving the bytes of ggml's reference quantizers
 * ({@code quantize_row_*_ref} in {@code ggml/src/ggml-quants.c}: what {@code llama-quantize} runs when it has no
 * importance matrix) and of its fp16/bf16 conversions, byte for byte.
 *
 * <p>Types: {@link GgmlType#F32}, {@link GgmlType#F16} (ggml's rounding: to nearest even, NaN to {@code 0x7e00} with
 * the sign kept), {@link GgmlType#BF16} (to nearest even, NaN made quiet keeping sign and payload),
 * {@link GgmlType#Q8_0}, {@link GgmlType#Q4_0}, {@link GgmlType#Q5_0} and {@link GgmlType#Q5_1} (the fallbacks of
 * the k-quants for rows that are not a multiple of 256), {@link GgmlType#Q4_K}, {@link GgmlType#Q5_K} and
 * {@link GgmlType#Q6_K}. Output is little-endian, one block after another, {@code type.rowBytes(n)} bytes.
 *
 * <p>{@link #quantize} runs the Vector API search where {@link GgmlVectorization} chose it (the scale searches of
 * the k-quants), {@link #quantizeScalar} the plain port; both give the same bytes. Thread-safe: the scratch space of
 * the searches is per thread.
 */
public final class GgmlQuantizers {
    private static final boolean VECTOR = GgmlVectorization.get().vector();
    private static final ThreadLocal<ScalarGgmlQuantizer> SCALAR = ThreadLocal.withInitial(ScalarGgmlQuantizer::new);
    private static final ThreadLocal<ScalarGgmlQuantizer> FAST = VECTOR
            ? ThreadLocal.withInitial(GgmlVectorization::newVectorQuantizer) : SCALAR;

    private GgmlQuantizers() {
    }

    /** Whether {@link #quantize} can write {@code type}. */
    public static boolean supports(GgmlType type) {
        return switch (type) {
            case F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K -> true;
            default -> false;
        };
    }

    /**
     * Quantizes {@code n} floats {@code src[srcOff..]} as {@code type} into {@code dst[dstOff..]}, writing
     * {@code type.rowBytes(n)} bytes; {@code n} must be a multiple of {@code type.blockSize()}.
     */
    public static void quantize(GgmlType type, float[] src, int srcOff, int n, byte[] dst, int dstOff) {
        quantize(FAST.get(), type, src, srcOff, n, dst, dstOff);
    }

    /** {@link #quantize} on the scalar reference alone (what the fast path is tested and measured against). */
    public static void quantizeScalar(GgmlType type, float[] src, int srcOff, int n, byte[] dst, int dstOff) {
        quantize(SCALAR.get(), type, src, srcOff, n, dst, dstOff);
    }

    /** The name of the path {@link #quantize} runs, for reports: {@code vector-512}, {@code vector-256} or {@code scalar}. */
    public static String implementation() {
        return GgmlVectorization.get().name();
    }

    static void quantize(ScalarGgmlQuantizer q, GgmlType type, float[] src, int srcOff, int n, byte[] dst, int dstOff) {
        check(type, n, srcOff, src.length, dstOff, dst.length);
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    GgmlFloats.putInt(dst, dstOff + 4 * i, Float.floatToRawIntBits(src[srcOff + i]));
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    GgmlFloats.putShort(dst, dstOff + 2 * i, GgmlFloats.fp32ToFp16(src[srcOff + i]));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    GgmlFloats.putShort(dst, dstOff + 2 * i, GgmlFloats.fp32ToBf16(src[srcOff + i]));
                }
            }
            case Q8_0 -> q.quantizeQ8_0(src, srcOff, n, dst, dstOff);
            case Q4_0 -> q.quantizeQ4_0(src, srcOff, n, dst, dstOff);
            case Q5_0 -> q.quantizeQ5_0(src, srcOff, n, dst, dstOff);
            case Q5_1 -> q.quantizeQ5_1(src, srcOff, n, dst, dstOff);
            case Q4_K -> q.quantizeQ4_K(src, srcOff, n, dst, dstOff);
            case Q5_K -> q.quantizeQ5_K(src, srcOff, n, dst, dstOff);
            case Q6_K -> q.quantizeQ6_K(src, srcOff, n, dst, dstOff);
            default -> throw new IllegalArgumentException("cannot quantize to ggml type " + type);
        }
    }

    /**
     * Decodes {@code n} values of {@code type} at {@code src[srcOff..]} into {@code dst[dstOff..]}, as ggml's
     * {@code dequantize_row_*} (and its fp16/bf16 conversions) compute them.
     */
    public static void dequantize(GgmlType type, byte[] src, int srcOff, int n, float[] dst, int dstOff) {
        check(type, n, dstOff, dst.length, srcOff, src.length);
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    dst[dstOff + i] = Float.intBitsToFloat(GgmlFloats.getInt(src, srcOff + 4 * i));
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    dst[dstOff + i] = GgmlFloats.fp16ToFp32(GgmlFloats.getShort(src, srcOff + 2 * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    dst[dstOff + i] = GgmlFloats.bf16ToFp32(GgmlFloats.getShort(src, srcOff + 2 * i));
                }
            }
            case Q8_0 -> ScalarGgmlQuantizer.dequantizeQ8_0(src, srcOff, n, dst, dstOff);
            case Q4_0 -> ScalarGgmlQuantizer.dequantizeQ4_0(src, srcOff, n, dst, dstOff);
            case Q5_0 -> ScalarGgmlQuantizer.dequantizeQ5_0(src, srcOff, n, dst, dstOff);
            case Q5_1 -> ScalarGgmlQuantizer.dequantizeQ5_1(src, srcOff, n, dst, dstOff);
            case Q4_K -> ScalarGgmlQuantizer.dequantizeQ4_K(src, srcOff, n, dst, dstOff);
            case Q5_K -> ScalarGgmlQuantizer.dequantizeQ5_K(src, srcOff, n, dst, dstOff);
            case Q6_K -> ScalarGgmlQuantizer.dequantizeQ6_K(src, srcOff, n, dst, dstOff);
            default -> throw new IllegalArgumentException("cannot dequantize ggml type " + type);
        }
    }

    private static void check(GgmlType type, int n, int floatOff, int floatLen, int byteOff, int byteLen) {
        if (n < 0 || n % type.blockSize() != 0) {
            throw new IllegalArgumentException(type + " needs a multiple of " + type.blockSize() + " values, not " + n);
        }
        long bytes = type.rowBytes(n);
        if (floatOff < 0 || byteOff < 0 || (long) floatOff + n > floatLen || byteOff + bytes > byteLen) {
            throw new IndexOutOfBoundsException(n + " values of " + type + " (" + bytes + " bytes) at float offset "
                    + floatOff + " of " + floatLen + " and byte offset " + byteOff + " of " + byteLen);
        }
    }
}
