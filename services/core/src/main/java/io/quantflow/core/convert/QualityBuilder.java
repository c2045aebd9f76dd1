package io.quantflow.core.convert;

import io.quantflow.core.format.TensorRole;
import io.quantflow.core.model.SourceTensor;
import io.quantflow.core.quality.AbsmaxOutliers;
import io.quantflow.core.quality.DynamicSelection;
import io.quantflow.core.quality.LayerQuality;
import io.quantflow.core.quality.MeasuredTensor;
import io.quantflow.core.quality.ModuleNames;
import io.quantflow.core.quality.Quality;
import io.quantflow.core.quality.TensorQuality;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.quant.TensorQuantizer;
import io.quantflow.core.safetensors.SafetensorsLayout;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The {@link Quality} section of a 4-bit output's manifest, from its tensors ({@link OutputTensor}, made
 * per shard by {@link #tensors}) and what each weight lost while it was written. {@link Converter} builds
 * it from the whole model's plans, the pipeline's publisher from the shards' results: both through
 * {@link #build(List, Map, Map, DynamicSelection)}. Every linear weight gets an entry (the 16-bit ones
 * too, with the error they would have had when {@code --dynamic} measured it), except a weight
 * quantized by a backend that returns no error sums (the {@link TensorQuantizer} seam does not yet);
 * every tensor counts in its layer's bytes and parameters.
 */
public final class QualityBuilder {
    private static final ModuleSelector LINEAR = new ModuleSelector(List.of());

    private QualityBuilder() {
    }

    /**
     * The tensors of one shard of a 4-bit output, in name order (the order of the quality section).
     *
     * @param plan   the shard's plan for the output
     * @param layout the shard's final layout, as written
     */
    public static List<OutputTensor> tensors(ShardPlan plan, SafetensorsLayout layout) {
        List<SourceTensor> sorted = new ArrayList<>(plan.shard().tensors());
        sorted.sort(Comparator.comparing(SourceTensor::name));
        List<OutputTensor> out = new ArrayList<>();
        for (SourceTensor t : sorted) {
            long bytes = plan.outputBytes(t.name(), layout);
            OutputTensor.Kind kind;
            String storedAs = null;
            if (plan.role(t.name()) == TensorRole.QUANTIZE) {
                kind = OutputTensor.Kind.QUANTIZED;
                storedAs = plan.output().format().quantizedAs(plan.output());
            } else if (t.values() != null && LINEAR.quantize(t.name(), t.shape(), t.values().dtype())) {
                kind = OutputTensor.Kind.KEPT_LINEAR;
                storedAs = plan.writtenDtype(t.name()).torchName();
            } else {
                kind = OutputTensor.Kind.OTHER;
            }
            out.add(new OutputTensor(t.name(), t.elements(), bytes, kind, storedAs));
        }
        return out;
    }

    /** The quality section of an output quantized without {@code --dynamic} (what the pipeline writes). */
    public static Quality build(List<OutputTensor> tensors, Map<String, MeasuredTensor> measured) {
        return build(tensors, measured, null, null);
    }

    /**
     * The quality section of an output.
     *
     * @param tensors  every tensor of the output, shard by shard in the source's order, each shard's in name order
     * @param measured what each quantized weight lost, by name (a weight absent here gets no entry)
     * @param surveyed the 4-bit errors {@code --dynamic} measured, by name, or null
     * @param dynamic  what {@code --dynamic} chose, or null
     */
    public static Quality build(List<OutputTensor> tensors, Map<String, MeasuredTensor> measured,
                                Map<String, ErrorSums> surveyed, DynamicSelection dynamic) {
        List<TensorQuality> entries = new ArrayList<>();
        Map<Integer, long[]> layerTotals = new TreeMap<>(); // bytes, parameters
        ErrorSums all = new ErrorSums();
        for (OutputTensor t : tensors) {
            int layer = ModuleNames.layer(t.name());
            long[] totals = layerTotals.computeIfAbsent(layer, k -> new long[2]);
            totals[0] += t.bytes();
            totals[1] += t.parameters();
            switch (t.kind()) {
                case QUANTIZED -> {
                    MeasuredTensor m = measured.get(t.name());
                    if (m == null) {
                        continue; // quantized by a backend that does not measure (TensorQuantizer): no figures
                    }
                    all.add(m.error());
                    AbsmaxOutliers.Result o = m.outliers();
                    entries.add(new TensorQuality(t.name(), layer, ModuleNames.module(t.name()), t.parameters(), t.bytes(),
                            t.storedAs(), m.error().relativeRms(), m.error().maxAbsError(), o.share(), null));
                }
                case KEPT_LINEAR -> {
                    ErrorSums s = surveyed == null ? null : surveyed.get(t.name());
                    entries.add(new TensorQuality(t.name(), layer, ModuleNames.module(t.name()), t.parameters(), t.bytes(),
                            t.storedAs(), 0, 0, null, s == null ? null : s.relativeRms()));
                }
                case OTHER -> {
                    // counted in its layer only
                }
            }
        }
        List<LayerQuality> layers = new ArrayList<>();
        for (Map.Entry<Integer, long[]> e : layerTotals.entrySet()) {
            int layer = e.getKey();
            List<TensorQuality> in = entries.stream().filter(t -> t.layer() == layer).toList();
            long[] totals = e.getValue();
            layers.add(new LayerQuality(layer, (int) in.stream().filter(TensorQuality::quantized).count(),
                    (int) in.stream().filter(t -> !t.quantized()).count(), totals[1], totals[0], meanError(in),
                    in.stream().mapToDouble(TensorQuality::relativeRms).max().orElse(0),
                    totals[1] == 0 ? 0 : totals[0] * 8.0 / totals[1]));
        }
        return new Quality(Quality.ERROR_DEFINITION, meanError(entries), all.relativeRms(),
                entries.stream().mapToDouble(TensorQuality::relativeRms).max().orElse(0), AbsmaxOutliers.FACTOR,
                dynamic, layers, entries);
    }

    /**
     * The manifest's {@code requantizationError}: when the base was a bitsandbytes 4-bit model and the
     * output quantizes again, the relative RMS error of all its quantized values; else null.
     */
    public static Double requantizationError(boolean base4bit, Quality quality) {
        return base4bit && quality != null ? quality.relativeRms() : null;
    }

    /** The quality section from the whole model's plans and their final layouts, in the same order. */
    static Quality build(List<ShardPlan> plans, List<SafetensorsLayout> layouts, Map<String, MeasuredTensor> measured,
                         Map<String, ErrorSums> surveyed, DynamicSelection dynamic) {
        List<OutputTensor> tensors = new ArrayList<>();
        for (int i = 0; i < plans.size(); i++) {
            tensors.addAll(tensors(plans.get(i), layouts.get(i)));
        }
        return build(tensors, measured, surveyed, dynamic);
    }

    /** Parameter-weighted mean relative RMS error (16-bit weights count 0). */
    private static double meanError(List<TensorQuality> tensors) {
        double num = 0;
        long params = 0;
        for (TensorQuality t : tensors) {
            num += t.parameters() * t.relativeRms();
            params += t.parameters();
        }
        return params == 0 ? 0 : num / params;
    }
}
