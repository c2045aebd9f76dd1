package io.quantflow.core.quality;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * What one weight of a 4-bit output costs and loses, as the manifest records it.
 *
 * @param name                   the tensor ({@code model.layers.3.mlp.down_proj.weight})
 * @param layer                  its layer index, -1 outside the repeated layers
 * @param module                 the module within the layer ({@code mlp.down_proj})
 * @param parameters             elements of the source tensor
 * @param bytes                  bytes its tensors take in the output's data (packed codes, absmax and
 *                               quant state for a 4-bit weight; the values for a 16-bit one)
 * @param storedAs               {@code nf4}/{@code fp4} when quantized, else the 16-bit dtype it is kept in
 * @param relativeRms            relative RMS error of the dequantized weight ({@link io.quantflow.core.quant.QuantErrors});
 *                               0 for a weight kept in 16 bit
 * @param maxAbsError            largest |dequantized - original|; 0 when kept
 * @param outlierBlockShare      share of blocks whose absmax is more than 8x the median ({@link AbsmaxOutliers}); null when kept
 * @param relativeRmsIfQuantized for a weight kept in 16 bit by {@code --dynamic}: its measured 4-bit error; else null
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record TensorQuality(String name, int layer, String module, long parameters, long bytes, String storedAs,
                            double relativeRms, double maxAbsError, Double outlierBlockShare,
                            Double relativeRmsIfQuantized) {

    public boolean quantized() {
        return outlierBlockShare != null;
    }

    /** The 4-bit error of this weight, measured: its error when quantized, else the error it would have had (or null). */
    public Double fourBitError() {
        return quantized() ? Double.valueOf(relativeRms) : relativeRmsIfQuantized;
    }
}
