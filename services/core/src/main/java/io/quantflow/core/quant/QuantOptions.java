package io.quantflow.core.quant;

import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;

import java.util.List;

/**
 * How to quantize: the bitsandbytes 4-bit options. Defaults are the QLoRA standard: nf4, double
 * quantization, blocksize 64, bfloat16 compute.
 *
 * @param skipModules module names kept in 16 bit in addition to those never quantized
 */
public record QuantOptions(QuantType quantType, boolean doubleQuant, int blocksize, DType computeDtype,
                           List<String> skipModules) {

    public static final int MIN_BLOCKSIZE = 32;
    public static final int MAX_BLOCKSIZE = 4096;

    public QuantOptions {
        skipModules = List.copyOf(skipModules);
        if (blocksize < MIN_BLOCKSIZE || blocksize > MAX_BLOCKSIZE || Integer.bitCount(blocksize) != 1) {
            throw new IllegalArgumentException("blocksize must be a power of two from " + MIN_BLOCKSIZE + " to "
                    + MAX_BLOCKSIZE + ", not " + blocksize);
        }
        if (!computeDtype.isDecodedFloat()) {
            throw new IllegalArgumentException("compute dtype must be bfloat16, float16 or float32");
        }
        for (String m : skipModules) {
            if (m.isBlank()) {
                throw new IllegalArgumentException("empty module name in skip modules");
            }
        }
    }

    public static QuantOptions defaults() {
        return new QuantOptions(QuantType.NF4, true, 64, DType.BF16, List.of());
    }

    /** A short label: {@code nf4+dq}, {@code fp4}. */
    public String label() {
        return quantType.id() + (doubleQuant ? "+dq" : "") + (blocksize != 64 ? " bs" + blocksize : "");
    }
}
