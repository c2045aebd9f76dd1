package io.quantflow.core.quant;

import io.quantflow.core.safetensors.DType;

/**
 * Blockwise 4-bit quantization as bitsandbytes does it: the values are cut into blocks of
 * {@code blocksize}; each block's absmax is its largest |x| (NaN ignored); every value is scaled by
 * the IEEE float32 reciprocal of the absmax and given the code its {@link QuantType} picks. Two codes
 * share a byte, the first in the high nibble; an odd count pads the last low nibble with the code
 * of 0.0, as the bitsandbytes kernel does.
 *
 * <p>Implementations are stateless and thread-safe and produce identical bytes.
 */
public interface BlockwiseQuantizer {

    /**
     * Quantizes {@code n} values starting at {@code src[srcOff]}, which must be the start of a block.
     *
     * @param packed  receives {@code (n + 1) / 2} bytes from {@code packedOff}
     * @param absmax  receives {@code ceil(n / blocksize)} values from {@code absmaxOff}
     */
    void quantize(float[] src, int srcOff, int n, int blocksize,
                  byte[] packed, int packedOff, float[] absmax, int absmaxOff);

    /**
     * As {@link #quantize(float[], int, int, int, byte[], int, float[], int)}, and adds to {@code errors}
     * what the values lose: each dequantized as bitsandbytes does in {@code dtype} (the weight's dtype)
     * and compared with the value, as {@link QuantErrors} defines it. Measured while the values are
     * at hand, with no second pass over them.
     */
    void quantize(float[] src, int srcOff, int n, int blocksize, byte[] packed, int packedOff,
                  float[] absmax, int absmaxOff, DType dtype, ErrorSums errors);

    /**
     * Quantizes {@code n} little-endian bf16 values from {@code src[srcOff..]} (2 bytes each): the same
     * bytes as {@link #quantize} gives for their float32 values. This default decodes with the scalar
     * reference into a new array; the Vector API path decodes in registers instead.
     */
    default void quantizeBf16(byte[] src, int srcOff, int n, int blocksize,
                              byte[] packed, int packedOff, float[] absmax, int absmaxOff) {
        float[] values = new float[n];
        HalfFloats.decodeBf16Scalar(src, srcOff, n, values, 0);
        quantize(values, 0, n, blocksize, packed, packedOff, absmax, absmaxOff);
    }

    /**
     * As {@link #quantizeBf16(byte[], int, int, int, byte[], int, float[], int)}, and measures the error as
     * {@link #quantize(float[], int, int, int, byte[], int, float[], int, io.quantflow.core.safetensors.DType, ErrorSums)}
     * does for the decoded values: the same bytes, and the same sums as that call gives. This default decodes
     * with the scalar reference into a new array; the Vector API path decodes in registers instead.
     */
    default void quantizeBf16(byte[] src, int srcOff, int n, int blocksize, byte[] packed, int packedOff,
                              float[] absmax, int absmaxOff, DType dtype, ErrorSums errors) {
        float[] values = new float[n];
        HalfFloats.decodeBf16Scalar(src, srcOff, n, values, 0);
        quantize(values, 0, n, blocksize, packed, packedOff, absmax, absmaxOff, dtype, errors);
    }

    QuantType type();

    /** A short name for reports and benchmarks ({@code scalar}, {@code vector-512}). */
    String name();
}
