package io.quantflow.core.quant;

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
                  float[] absmax, int absmaxOff, io.quantflow.core.safetensors.DType dtype, ErrorSums errors);

    QuantType type();

    /** A short name for reports and benchmarks ({@code scalar}, {@code vector-512}). */
    String name();
}
