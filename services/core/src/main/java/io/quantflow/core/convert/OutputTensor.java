package io.quantflow.core.convert;

/**
 * One source tensor as a 4-bit output holds it, as the output's quality section counts it: what
 * {@link QualityBuilder} needs of the tensor besides what quantizing it lost. Made per shard from the
 * shard's plan and final layout ({@link QualityBuilder#tensors}), so a shard converted on its own
 * (the pipeline's quantizer) can carry its tensors to whoever builds the quality section.
 *
 * @param name       the source tensor's name
 * @param parameters its elements
 * @param bytes      bytes its output tensors take in the output's data (packed codes, absmax and quant
 *                   state of a quantized weight; the values of a kept one)
 * @param kind       whether it was quantized, is a linear weight kept in 16 bit, or neither
 * @param storedAs   the quant type id of a quantized weight ({@code nf4}), the dtype a kept linear weight
 *                   is written in ({@code bfloat16}); null for the others
 */
public record OutputTensor(String name, long parameters, long bytes, Kind kind, String storedAs) {

    /** How the quality section counts a tensor. */
    public enum Kind {
        /** Quantized to 4 bit: an entry with its error. */
        QUANTIZED,
        /** A linear weight kept in 16 bit (skipped by the user or by {@code --dynamic}): an entry without error. */
        KEPT_LINEAR,
        /** Any other tensor: counted in its layer's bytes and parameters only. */
        OTHER
    }
}
