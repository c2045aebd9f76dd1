package io.quantflow.core.quality;

/**
 * One layer's summary (layer -1: the tensors outside the repeated layers).
 *
 * @param quantizedModules     weights quantized to 4 bits
 * @param keptModules          linear weights kept in 16 bit (skipped by the user or by {@code --dynamic})
 * @param meanRelativeRms      parameter-weighted mean relative RMS error of the layer's linear weights (kept ones count 0)
 * @param maxRelativeRms       the largest relative RMS error among them
 * @param bitsPerParameter     output data bytes x 8 / source parameters of every tensor of the layer
 */
public record LayerQuality(int layer, int quantizedModules, int keptModules, long parameters, long bytes,
                           double meanRelativeRms, double maxRelativeRms, double bitsPerParameter) {
}
