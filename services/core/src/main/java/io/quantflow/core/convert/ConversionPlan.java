package io.quantflow.core.convert;

import io.quantflow.core.format.EncodedWeight;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.format.WeightCodec;
import io.quantflow.core.model.SourceShard;
import io.quantflow.core.safetensors.TensorSpec;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The whole conversion, planned from headers alone: for every output, one {@link ShardPlan} per source shard. */
public final class ConversionPlan {
    private final List<SourceShard> shards;
    private final Map<OutputSpec, List<ShardPlan>> plans;

    private ConversionPlan(List<SourceShard> shards, Map<OutputSpec, List<ShardPlan>> plans) {
        this.shards = shards;
        this.plans = plans;
    }

    static ConversionPlan of(List<SourceShard> shards, List<OutputSpec> outputs) {
        Map<OutputSpec, List<ShardPlan>> plans = new LinkedHashMap<>();
        for (OutputSpec o : outputs) {
            if (!o.hasWeights()) {
                continue;
            }
            ModuleSelector selector = new ModuleSelector(o.quant() == null ? List.of() : o.format().keptTogether(o.quant().skipModules()));
            List<ShardPlan> list = new ArrayList<>();
            for (SourceShard s : shards) {
                list.add(new ShardPlan(s, o, selector));
            }
            plans.put(o, List.copyOf(list));
        }
        return new ConversionPlan(List.copyOf(shards), plans);
    }

    List<SourceShard> shards() {
        return shards;
    }

    /** The outputs that hold weights, each with its shard plans in source order. */
    Map<OutputSpec, List<ShardPlan>> plans() {
        return plans;
    }

    /** One output's shard plans, in source order (none for an output without weights). */
    public List<ShardPlan> plans(OutputSpec o) {
        return plans.getOrDefault(o, List.of());
    }

    /** Weights the output quantizes. */
    public int quantizedCount(OutputSpec o) {
        return plans(o).stream().mapToInt(ShardPlan::quantizedCount).sum();
    }

    /** Source tensors the output keeps as they are or in 16 bit. */
    public int keptCount(OutputSpec o) {
        return plans(o).stream().mapToInt(ShardPlan::keptCount).sum();
    }

    /** Elements of the weights the output quantizes. */
    public long quantizedParameters(OutputSpec o) {
        return plans(o).stream().mapToLong(ShardPlan::quantizedParameters).sum();
    }

    /** Tensor bytes read from the source. */
    long sourceBytes() {
        return shards.stream().mapToLong(SourceShard::sourceBytes).sum();
    }

    /** Upper bound of one output's weight files (every shard, headers included), known before anything is written. */
    long weightBytesBound(OutputSpec o) {
        return plans(o).stream().mapToLong(ShardPlan::maxFileBytes).sum();
    }

    /** Upper bound of the weight files' size of all outputs: known from shapes before anything is written. */
    long maxWeightBytes() {
        return plans.values().stream().flatMap(List::stream).mapToLong(ShardPlan::maxFileBytes).sum();
    }

    /**
     * Bytes of the weight files an output would write for these tensors (headers approximated): sizes
     * follow from shapes, so this answers for models that are not on disk.
     */
    public static long estimateWeightBytes(List<TensorSpec> tensors, OutputSpec output) {
        ModuleSelector selector = new ModuleSelector(output.quant() == null ? List.of() : output.format().keptTogether(output.quant().skipModules()));
        WeightCodec codec = output.format().codec(output);
        long bytes = 0;
        for (TensorSpec s : tensors) {
            if (codec != null && selector.quantize(s.name(), s.shape(), s.dtype())) {
                EncodedWeight q = codec.weight(s.name(), s.dtype(), s.shape());
                for (TensorSpec o : q.specs(q.maxLateLength())) {
                    bytes += o.byteSize() + 120;
                }
            } else {
                bytes += s.byteSize() + 80;
            }
        }
        return bytes;
    }
}
