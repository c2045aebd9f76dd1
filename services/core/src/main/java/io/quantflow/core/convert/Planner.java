package io.quantflow.core.convert;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.lora.LoraAdapter;
import io.quantflow.core.merge.DeltaApplier;
import io.quantflow.core.model.AdapterMerge;
import io.quantflow.core.model.SourceModel;
import io.quantflow.core.model.SourceShard;
import io.quantflow.core.safetensors.DType;

import java.util.List;
import java.util.Objects;

/**
 * The source as the outputs see it, checked and planned: what {@link Converter} does between opening
 * the source and writing. It needs config.json, the shards' headers and the adapter; tensor data only
 * for a bitsandbytes 4-bit base, whose weights' shapes are in their quant states. A 16-bit model's
 * shards may therefore be opened from their headers alone ({@code SafetensorsFile.open(String, long, RangeReader)}).
 */
public final class Planner {
    private Planner() {
    }

    /**
     * The whole model, with every check {@link Converter} makes before it writes.
     *
     * @param source  the model, for messages
     * @param config  its config.json (null refused, as a model without one)
     * @param shards  every shard, in order
     * @param adapter the adapter merged into merged outputs, or null
     * @param outputs the outputs as {@link ConversionOptions#outputs} makes them
     * @throws QuantflowException INVALID_CHECKPOINT (no config.json, a 4-bit config without 4-bit weights...),
     *                            UNSUPPORTED_MODEL (a 4-bit base asked for bnb-4bit, nothing to quantize...),
     *                            INVALID_REQUEST (an adapter that does not fit the model)
     */
    public static ConversionPlan forModel(String source, ObjectNode config, List<Checkpoint.Shard> shards,
                                          LoraAdapter adapter, List<OutputSpec> outputs) {
        boolean base4bit = base4bit(source, config, outputs);
        List<SourceShard> model = base4bit ? SourceModel.dequantized(source, shards) : SourceModel.plain(shards);
        if (adapter != null) {
            model = AdapterMerge.apply(model, adapter, mergeDtype(outputs), DeltaApplier.best());
        }
        ConversionPlan plan = ConversionPlan.of(model, outputs);
        for (OutputSpec o : outputs) {
            if (o.quantizes() && plan.quantizedCount(o) == 0) {
                throw QuantflowException.of(Reason.NOTHING_TO_QUANTIZE, source
                        + " has no 2-D linear-layer weights in bf16/fp16/fp32 to quantize");
            }
        }
        return plan;
    }

    /**
     * One shard of a model for one output, planned as {@link #forModel} plans it within the whole
     * model, without the checks that need every shard: an adapter tensor whose base tensor is in
     * another shard, a 4-bit model's shard with no 4-bit weight, a shard with nothing to quantize.
     * Those are for {@link #forModel} on the whole model's headers, before the shards are converted.
     *
     * @param output an output with weights, as {@link ConversionOptions#outputs} makes it
     */
    public static ConversionPlan forShard(String source, ObjectNode config, Checkpoint.Shard shard, LoraAdapter adapter,
                                          OutputSpec output) {
        boolean base4bit = base4bit(source, config, List.of(output));
        List<SourceShard> model = List.of(base4bit ? SourceModel.dequantized(shard) : SourceModel.plain(List.of(shard)).get(0));
        if (adapter != null) {
            model = AdapterMerge.applyToPart(model, adapter, output.dtype(), DeltaApplier.best());
        }
        return ConversionPlan.of(model, List.of(output));
    }

    /**
     * Whether config.json says the model is a bitsandbytes 4-bit one (its outputs are quantized again).
     *
     * @throws QuantflowException UNSUPPORTED_MODEL for another quantization
     */
    public static boolean isBnb4bit(ObjectNode config) {
        return SourceModel.isBnb4bit(config);
    }

    /** Whether the source is a bitsandbytes 4-bit model, refusing what no output can be made from. */
    private static boolean base4bit(String source, ObjectNode config, List<OutputSpec> outputs) {
        if (config == null) {
            throw QuantflowException.of(Reason.CONFIG_MISSING, source + " has no config.json; transformers cannot load a model without it");
        }
        boolean base4bit = SourceModel.isBnb4bit(config);
        if (base4bit) {
            for (OutputSpec o : outputs) {
                if (!o.format().acceptsQuantizedBase()) {
                    throw QuantflowException.of(Reason.ALREADY_4BIT, source + " is already a bitsandbytes 4-bit model; "
                            + o.format().quantizedBaseRefusal());
                }
            }
        }
        return base4bit;
    }

    /** The dtype merged tensors are rounded to: the merged outputs' (they share it), or null for each tensor's own. */
    private static DType mergeDtype(List<OutputSpec> outputs) {
        return outputs.stream().map(OutputSpec::dtype).filter(Objects::nonNull).findFirst().orElse(null);
    }
}
