package io.quantflow.core.convert;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.json.PythonJson;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The two files of an output with weights that are not copied from the source: the shard index
 * (when the source had one) and config.json, rewritten for the output.
 */
public final class IndexAndConfig {
    private IndexAndConfig() {
    }

    /**
     * One weight file of an output as its index lists it.
     *
     * @param tensorNames every tensor the file holds
     * @param dataLength  the bytes of its data section (what the index's total_size adds up)
     */
    public record WeightFile(String fileName, List<String> tensorNames, long dataLength) {
        public WeightFile {
            tensorNames = List.copyOf(tensorNames);
        }
    }

    /**
     * Writes {@code model.safetensors.index.json} when the source was indexed and config.json into
     * {@code dir}: the source's config as the output's format rewrites it
     * ({@link io.quantflow.core.format.OutputFormat#config}).
     *
     * @param sourceConfig the source's config.json (left unchanged)
     * @param indexed      whether the source had a shard index
     * @param o            an output with weights
     * @param files        the output's weight files in source shard order
     */
    public static void write(ObjectNode sourceConfig, boolean indexed, OutputSpec o, List<WeightFile> files, Path dir)
            throws IOException {
        if (!o.hasWeights()) {
            throw new IllegalArgumentException("the " + o.format().id() + " output has no weights to index or configure");
        }
        if (indexed) {
            Map<String, String> weightMap = new TreeMap<>();
            long totalSize = 0;
            for (WeightFile f : files) {
                for (String t : f.tensorNames()) {
                    weightMap.put(t, f.fileName());
                }
                totalSize += f.dataLength();
            }
            writeIndex(dir.resolve(Checkpoint.INDEX_FILE), weightMap, totalSize);
        }
        Files.writeString(dir.resolve(Checkpoint.CONFIG_FILE), PythonJson.toIndentedSorted(o.format().config(sourceConfig, o)),
                StandardCharsets.UTF_8);
    }

    /** The shard index as transformers writes it: total_size and a sorted weight_map. */
    private static void writeIndex(Path file, Map<String, String> weightMap, long totalSize) throws IOException {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        root.putObject("metadata").put("total_size", totalSize);
        ObjectNode map = root.putObject("weight_map");
        weightMap.forEach(map::put);
        Files.writeString(file, PythonJson.toIndentedSorted(root), StandardCharsets.UTF_8);
    }
}
