package io.quantflow.core.format;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.lora.LoraAdapter;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * An artifact quantflow writes: one implementation per package below {@code io.quantflow.core.format},
 * registered in {@link Formats}. A format says which options apply to it, what it does with each source
 * tensor ({@link #role}), how it rewrites config.json, what its model card says and which files it writes
 * besides the weights. The streaming core (read, merge, transform, write at planned offsets, manifest) and
 * the planner, job runner, pipeline stages and CLI ask these questions and never name a format.
 */
public interface OutputFormat {

    /** The name users give ({@code --format}, events, subfolders): {@code bnb-4bit}. */
    String id();

    /** Whether an adapter must, may or must not come with this format. */
    AdapterUse adapterUse();

    /**
     * The hint given when an adapter comes with a format that refuses one (see {@link AdapterUse#REFUSED}).
     *
     * @param askFor how the caller's users ask for another format: {@code use --format} (the CLI), {@code ask for}
     *               (an event)
     */
    default String adapterRefusal(String askFor) {
        return id() + " does not take an adapter";
    }

    /** Whether the format merges the adapter into the weights (its tensors change with the adapter). */
    default boolean mergesAdapter() {
        return false;
    }

    /** Whether the 4-bit options ({@code QuantOptions}) apply: the format quantizes weights to bitsandbytes 4-bit. */
    default boolean quantizes() {
        return false;
    }

    /** Whether {@code --dtype} (the 16-bit dtype merged tensors are written in) applies. */
    default boolean takesDtype() {
        return false;
    }

    /** Whether the output holds the model's weights (shards, index, config); false for an adapter alone. */
    default boolean hasWeights() {
        return true;
    }

    /** Whether the format can start from a bitsandbytes 4-bit base (dequantized exactly, then written again). */
    default boolean acceptsQuantizedBase() {
        return true;
    }

    /** Why a 4-bit base cannot be made into this format (when {@link #acceptsQuantizedBase} is false). */
    default String quantizedBaseRefusal() {
        return id() + " starts from a 16-bit model";
    }

    /**
     * How the output encodes the weights it quantizes ({@link TensorRole#QUANTIZE}); null for a format that
     * quantizes nothing.
     */
    default WeightCodec codec(OutputSpec output) {
        return null;
    }

    /** Which shard stage of the pipeline does this format's per-shard work. */
    ShardStep shardStep();

    /**
     * What the output does with one source tensor that has values (a tensor without decodable values is
     * always copied).
     *
     * @param quantizable whether the tensor is a weight the 4-bit options would quantize
     *                    (2-D, linear, not skipped: {@code ModuleSelector})
     * @param changed     whether its values differ from the stored bytes (merged, dequantized)
     * @param retyped     whether the output writes it in another dtype than it has
     */
    default TensorRole role(boolean quantizable, boolean changed, boolean retyped) {
        if (quantizes() && quantizable) {
            return TensorRole.QUANTIZE;
        }
        return changed || retyped ? TensorRole.CONVERT : TensorRole.COPY;
    }

    /**
     * The output's config.json from the source's: {@code quantization_config} removed (a format that
     * quantizes sets its own) and {@code dtype}/{@code torch_dtype} set to the output's dtype when it has one.
     */
    default ObjectNode config(ObjectNode sourceConfig, OutputSpec output) {
        ObjectNode config = sourceConfig.deepCopy();
        config.remove("quantization_config");
        if (output.dtype() != null) {
            for (String key : List.of("dtype", "torch_dtype")) {
                if (config.has(key)) {
                    config.put(key, output.dtype().torchName());
                }
            }
        }
        return config;
    }

    /** The model card's tags after {@code quantflow} (Hub metadata). */
    List<String> cardTags(OutputSpec output);

    /**
     * The modules to keep in 16 bit when {@code skipModules} are asked for: with the modules an engine fuses with them
     * (vLLM loads q/k/v and gate/up as one layer, which must be quantized alike).
     */
    default List<String> keptTogether(List<String> skipModules) {
        return skipModules;
    }

    /** What the manifest says a quantized weight is stored as ({@code nf4}, {@code fp8-e4m3}). */
    default String quantizedAs(OutputSpec output) {
        return output.quant().quantType().id();
    }

    /** The comment after the model card's {@code from_pretrained} line of a format that quantizes (what loading needs). */
    default String loadNote(OutputSpec output) {
        return "needs bitsandbytes and a CUDA GPU";
    }

    /** The model card's paragraph saying what the files are, one line ending in a newline. */
    String cardDescription(OutputSpec output);

    /**
     * Writes the files of a format without weights into {@code dir} (the adapter alone); formats with
     * weights have theirs written by the core and leave this as it is.
     */
    default void writeWithoutWeights(LoraAdapter adapter, Path dir) throws IOException {
        throw new UnsupportedOperationException(id() + " has weights: the conversion core writes them");
    }
}
