package io.quantflow.core.format;

import io.quantflow.core.safetensors.DType;

/**
 * How an output format encodes the weights it quantizes ({@link TensorRole#QUANTIZE}) into a safetensors
 * output: which tensors each weight becomes ({@link EncodedWeight}) and how its values turn into their bytes
 * ({@link WeightEncoding}). The streaming core reads the values, rounds them to the output's dtype, hands
 * them over chunk by chunk and places the bytes; the codec owns the arithmetic and the naming.
 */
public interface WeightCodec {

    /** Weight {@code name} as this codec writes it, quantized from values in {@code dtype}. */
    EncodedWeight weight(String name, DType dtype, long[] shape);

    /** For the manifest and {@code --verbose}: what computes on the CPU ({@code vector-512}, {@code scalar}). */
    String engine();

    /**
     * Whether a GPU {@code TensorQuantizer} may encode this codec's weights instead of the CPU (it writes the
     * same bytes): the bitsandbytes 4-bit codec's kernels.
     */
    default boolean accelerable() {
        return false;
    }
}
