package io.quantflow.core.convert;

import io.quantflow.core.safetensors.DType;

/**
 * One artifact a conversion writes.
 *
 * @param format  what to write
 * @param subdir  where in the target ("" for the target itself)
 * @param quant   the 4-bit options, for the formats that quantize
 * @param dtype   the 16-bit dtype floating tensors are written or merged in; null keeps each tensor's own
 */
public record OutputSpec(OutputFormat format, String subdir, QuantOptions quant, DType dtype) {

    public boolean quantizes() {
        return format == OutputFormat.BNB_4BIT || format == OutputFormat.MERGED_4BIT;
    }

    /** Whether this output holds model weights (every format but the adapter alone). */
    public boolean hasWeights() {
        return format != OutputFormat.LORA;
    }
}
