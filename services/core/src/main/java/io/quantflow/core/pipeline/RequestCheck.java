package io.quantflow.core.pipeline;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.convert.ConversionPlan;
import io.quantflow.core.convert.Planner;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.lora.LoraAdapter;

import java.util.List;

/**
 * The checks {@code Converter} makes before it writes, for a request whose shards are not at hand:
 * from config.json and the shards' headers, with the same error codes and messages. Shards are opened
 * over ranged reads ({@code SafetensorsFile.open(String, long, RangeReader)}); a 16-bit model's are read
 * no further than their headers, a bitsandbytes 4-bit model's also in its quant-state and quant-map
 * tensors (a few hundred bytes a weight), which hold the weights' shapes.
 */
public final class RequestCheck {
    private RequestCheck() {
    }

    /**
     * What the manifest records of the source, and of each output what it will hold.
     *
     * @param weightBytes bytes of tensor data in the shards
     * @param dtype       the dtype of most of those bytes, as torch names it
     * @param bnb4bit     whether the source is a bitsandbytes 4-bit model (its 4-bit outputs record a requantization error)
     */
    public record Summary(long parameters, long weightBytes, String dtype, int shards, boolean bnb4bit,
                          List<OutputCounts> outputs) {
        public Summary {
            outputs = List.copyOf(outputs);
        }
    }

    /** One output's tensors, as its manifest counts them (all zero for the lora output). */
    public record OutputCounts(String format, int quantizedCount, int keptCount, long quantizedParameters) {
    }

    /**
     * Checks the request and sums up the source.
     *
     * @param source  the model, for messages
     * @param config  its config.json, or null when it has none (refused)
     * @param shards  every shard in order, with its name in the model
     * @param adapter the adapter, or null
     * @param outputs the outputs, as {@code ConversionOptions.outputs} makes them
     * @throws io.quantflow.core.error.QuantflowException as {@code Converter} would: a tensor in two shards,
     *         an adapter that does not fit (INVALID_REQUEST naming the module), a 4-bit base asked for bnb-4bit
     *         or nothing to quantize (UNSUPPORTED_MODEL), ...
     */
    public static Summary check(String source, ObjectNode config, List<Checkpoint.Shard> shards, LoraAdapter adapter,
                                List<OutputSpec> outputs) {
        Checkpoint.tensorLocations(shards);
        ConversionPlan plan = Planner.forModel(source, config, shards, adapter, outputs);
        List<OutputCounts> counts = outputs.stream().map(o -> new OutputCounts(o.format().id(), plan.quantizedCount(o),
                plan.keptCount(o), plan.quantizedParameters(o))).toList();
        return new Summary(Checkpoint.parameters(shards), Checkpoint.weightBytes(shards),
                Checkpoint.dominantDtype(shards).torchName(), shards.size(), Planner.isBnb4bit(config), counts);
    }
}
