package io.quantflow.core.pipeline;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.convert.IndexAndConfig;
import io.quantflow.core.convert.ModelCard;
import io.quantflow.core.format.OutputSpec;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * What a publisher writes beside an output's converted shards: the index and config.json made from
 * the shards' results; copied byte for byte from the source, the files {@link #copiedFromSource}
 * names (tokenizer, generation config...); last, the model card ({@link #writeModelCard}). The lora
 * output is the adapter alone ({@code io.quantflow.core.format.lora.LoraExport}).
 */
public final class ModelFiles {
    private ModelFiles() {
    }

    /**
     * Writes {@code model.safetensors.index.json} (when the source had one) and config.json into {@code dir},
     * as {@code Converter} writes them.
     *
     * @param sourceConfig  the source's config.json (left unchanged)
     * @param sourceIndexed whether the source had a shard index
     * @param output        an output with weights
     * @param shardsInOrder the output's shard results, in the source's shard order
     */
    public static void writeIndexAndConfig(ObjectNode sourceConfig, boolean sourceIndexed, OutputSpec output,
                                           List<ShardResult> shardsInOrder, Path dir) throws IOException {
        List<IndexAndConfig.WeightFile> files = shardsInOrder.stream()
                .map(r -> new IndexAndConfig.WeightFile(r.fileName(), r.tensorNames(), r.dataLength()))
                .toList();
        IndexAndConfig.write(sourceConfig, sourceIndexed, output, files, dir);
    }

    /**
     * Writes the output's README.md ({@link ModelCard}) once the files copied from the source are in
     * {@code dir}: a card that came with the source moves to BASE_MODEL_README.md.
     */
    public static void writeModelCard(ObjectNode sourceConfig, OutputSpec output, Path dir) throws IOException {
        ModelCard.write(dir, sourceConfig, output);
    }

    /** Whether a top-level file of the source goes into every output with weights, unchanged. */
    public static boolean copiedFromSource(String fileName) {
        return Checkpoint.carriedAlong(fileName);
    }
}
