package io.quantflow.core.quality;

import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.List;

/**
 * The quality section of a 4-bit output's manifest: what quantization lost, per weight and per layer.
 *
 * @param errorDefinition  how the errors are measured, in words
 * @param meanRelativeRms  parameter-weighted mean of the relative RMS error over the linear weights
 *                         (those kept in 16 bit count 0): the figure {@code --dynamic} lowers
 * @param relativeRms      relative RMS error of all quantized values together
 * @param maxRelativeRms   the largest relative RMS error of a quantized weight
 * @param outlierFactor    a block is an outlier block when its absmax is above this times the median
 * @param dynamic          the choice {@code --dynamic} made, or null
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Quality(String errorDefinition, double meanRelativeRms, double relativeRms, double maxRelativeRms,
                      double outlierFactor, DynamicSelection dynamic, List<LayerQuality> layers,
                      List<TensorQuality> tensors) {

    public static final String ERROR_DEFINITION = "relative RMS error sqrt(sum (deq - x)^2 / sum x^2) of each weight,"
            + " deq dequantized as bitsandbytes does (code value x block absmax in float32, rounded to the weight's dtype;"
            + " the exact absmax, before double quantization); maxAbsError = max |deq - x|";

    public Quality {
        layers = List.copyOf(layers);
        tensors = List.copyOf(tensors);
    }
}
