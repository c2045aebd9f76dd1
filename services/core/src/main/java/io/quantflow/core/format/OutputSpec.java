package io.quantflow.core.format;

import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.safetensors.DType;

/**
 * One artifact a conversion writes.
 *
 * @param format  what to write
 * @param subdir  where in the target ("" for the target itself)
 * @param quant   the 4-bit options, for the formats that quantize (null for the others)
 * @param dtype   the 16-bit dtype floating tensors are written or merged in; null keeps each tensor's own
 */
public record OutputSpec(OutputFormat format, String subdir, QuantOptions quant, DType dtype) {

    public boolean quantizes() {
        return format.quantizes();
    }

    /** Whether this output holds model weights (every format but the adapter alone). */
    public boolean hasWeights() {
        return format.hasWeights();
    }

    /** This output with other 4-bit options (the weights {@code --dynamic} keeps in 16 bit added to the skipped ones). */
    public OutputSpec withQuant(QuantOptions q) {
        return new OutputSpec(format, subdir, q, dtype);
    }
}
