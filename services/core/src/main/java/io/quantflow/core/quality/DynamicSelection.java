package io.quantflow.core.quality;

import java.util.List;

/**
 * What {@code --dynamic} chose and what it bought. Sizes are the planned upper bounds of the weight
 * files (the written files are at most a few bytes per weight smaller); errors are parameter-weighted
 * means of the relative RMS error over the linear weights, kept ones counting 0.
 *
 * @param budget                       the budget as given ({@code 4.5 bits/param}, {@code 40000000 bytes})
 * @param budgetBytes                  the budget in bytes of weight files
 * @param rule                         how the weights were chosen, in words
 * @param keptModules                  the modules kept in 16 bit, in the order chosen
 * @param baselineBytes                every candidate quantized: the smallest output
 * @param plannedBytes                 with the kept modules
 * @param baselineBitsPerParameter     {@code baselineBytes x 8 / parameters}
 * @param bitsPerParameter             {@code plannedBytes x 8 / parameters}
 * @param baselineMeanRelativeRms      every candidate quantized
 * @param meanRelativeRms              with the kept modules
 * @param errorRemovedShare            {@code 1 - meanRelativeRms / baselineMeanRelativeRms}
 * @param errorRemovedSharePerExtraBit {@code errorRemovedShare / (bitsPerParameter - baselineBitsPerParameter)}; 0 when nothing was kept
 * @param randomSameShapeMeanRelativeRms the expected error when the same number of weights of the same shapes
 *                                       (so the same size) are kept, chosen at random: what the choice is worth
 */
public record DynamicSelection(String budget, long budgetBytes, String rule, List<String> keptModules, long baselineBytes,
                               long plannedBytes, double baselineBitsPerParameter, double bitsPerParameter,
                               double baselineMeanRelativeRms, double meanRelativeRms, double errorRemovedShare,
                               double errorRemovedSharePerExtraBit, double randomSameShapeMeanRelativeRms) {

    public static final String RULE = "greedy: weights in decreasing order of error removed per extra byte"
            + " (parameters x relative RMS error / (16-bit bytes - 4-bit bytes)), each kept in 16 bit if it still fits the budget;"
            + " ties by name";

    public DynamicSelection {
        keptModules = List.copyOf(keptModules);
    }
}
