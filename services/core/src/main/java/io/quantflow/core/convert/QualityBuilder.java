package io.quantflow.core.convert;

import io.quantflow.core.quality.AbsmaxOutliers;
import io.quantflow.core.quality.DynamicSelection;
import io.quantflow.core.quality.LayerQuality;
import io.quantflow.core.quality.ModuleNames;
import io.quantflow.core.quality.Quality;
import io.quantflow.core.quality.TensorQuality;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.SafetensorsLayout;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The {@link Quality} section of a 4-bit output's manifest, from its plans, its final layouts and
 * what each weight lost while it was written. Every linear weight gets an entry (the 16-bit ones
 * too, with the error they would have had when {@code --dynamic} measured it), except a weight
 * quantized by a backend that returns no error sums (the {@link TensorQuantizer} seam does not yet);
 * every tensor counts in its layer's bytes and parameters.
 */
final class QualityBuilder {
    private static final ModuleSelector LINEAR = new ModuleSelector(List.of());

    private QualityBuilder() {
    }

    static Quality build(List<ShardPlan> plans, List<SafetensorsLayout> layouts, Map<String, MeasuredTensor> measured,
                         QuantType type, Map<String, ErrorSums> surveyed, DynamicSelection dynamic) {
        List<TensorQuality> tensors = new ArrayList<>();
        Map<Integer, long[]> layerTotals = new TreeMap<>(); // bytes, parameters
        ErrorSums all = new ErrorSums();
        for (int i = 0; i < plans.size(); i++) {
            ShardPlan plan = plans.get(i);
            List<SourceTensor> sorted = new ArrayList<>(plan.shard().tensors());
            sorted.sort(java.util.Comparator.comparing(SourceTensor::name));
            for (SourceTensor t : sorted) {
                long bytes = plan.outputBytes(t.name(), layouts.get(i));
                int layer = ModuleNames.layer(t.name());
                long[] totals = layerTotals.computeIfAbsent(layer, k -> new long[2]);
                totals[0] += bytes;
                totals[1] += t.elements();
                MeasuredTensor m = measured.get(t.name());
                if (plan.role(t.name()) == TensorRole.QUANTIZE) {
                    if (m == null) {
                        continue; // quantized by a backend that does not measure (TensorQuantizer): no figures
                    }
                    all.add(m.error());
                    AbsmaxOutliers.Result o = m.outliers();
                    tensors.add(new TensorQuality(t.name(), layer, ModuleNames.module(t.name()), t.elements(), bytes,
                            type.id(), m.error().relativeRms(), m.error().maxAbsError(), o.share(), null));
                } else if (t.values() != null && LINEAR.quantize(t.name(), t.shape(), t.values().dtype())) {
                    ErrorSums s = surveyed == null ? null : surveyed.get(t.name());
                    tensors.add(new TensorQuality(t.name(), layer, ModuleNames.module(t.name()), t.elements(), bytes,
                            plan.writtenDtype(t.name()).torchName(), 0, 0, null, s == null ? null : s.relativeRms()));
                }
            }
        }
        List<LayerQuality> layers = new ArrayList<>();
        for (Map.Entry<Integer, long[]> e : layerTotals.entrySet()) {
            int layer = e.getKey();
            List<TensorQuality> in = tensors.stream().filter(t -> t.layer() == layer).toList();
            long[] totals = e.getValue();
            layers.add(new LayerQuality(layer, (int) in.stream().filter(TensorQuality::quantized).count(),
                    (int) in.stream().filter(t -> !t.quantized()).count(), totals[1], totals[0], meanError(in),
                    in.stream().mapToDouble(TensorQuality::relativeRms).max().orElse(0),
                    totals[1] == 0 ? 0 : totals[0] * 8.0 / totals[1]));
        }
        return new Quality(Quality.ERROR_DEFINITION, meanError(tensors), all.relativeRms(),
                tensors.stream().mapToDouble(TensorQuality::relativeRms).max().orElse(0), AbsmaxOutliers.FACTOR,
                dynamic, layers, tensors);
    }

    /** Parameter-weighted mean relative RMS error (16-bit weights count 0). */
    static double meanError(List<TensorQuality> tensors) {
        double num = 0;
        long params = 0;
        for (TensorQuality t : tensors) {
            num += t.parameters() * t.relativeRms();
            params += t.parameters();
        }
        return params == 0 ? 0 : num / params;
    }
}
