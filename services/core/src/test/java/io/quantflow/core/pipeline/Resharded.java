package io.quantflow.core.pipeline;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.json.PythonJson;
import io.quantflow.core.safetensors.SafetensorsLayout;
import io.quantflow.core.safetensors.SafetensorsOutput;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.safetensors.TensorSpec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A checkpoint written again as one shard per layer, with the embeddings alone in the first shard and
 * the final norm and output head in the last, plus a shard index: every tensor's bytes unchanged, and a
 * 4-bit weight's companions in its shard. An adapter's modules then lie in several shards, and a 4-bit
 * model has a shard with no 4-bit weight.
 */
final class Resharded {
    private Resharded() {
    }

    static Path write(Path source, Path dir) {
        try (Checkpoint c = Checkpoint.open(source)) {
            int layers = c.config().path("num_hidden_layers").asInt();
            List<List<Checkpoint.Shard>> owners = new ArrayList<>();
            List<List<TensorInfo>> groups = new ArrayList<>();
            for (int i = 0; i < layers + 2; i++) {
                owners.add(new ArrayList<>());
                groups.add(new ArrayList<>());
            }
            for (Checkpoint.Shard s : c.shards()) {
                for (TensorInfo t : s.file().header().tensors()) {
                    int g = group(t.name(), layers);
                    owners.get(g).add(s);
                    groups.get(g).add(t);
                }
            }
            Files.createDirectories(dir);
            Map<String, String> weightMap = new TreeMap<>();
            long total = 0;
            for (int g = 0; g < groups.size(); g++) {
                String name = String.format("model-%05d-of-%05d.safetensors", g + 1, groups.size());
                List<TensorSpec> specs = groups.get(g).stream().map(t -> new TensorSpec(t.name(), t.dtype(), t.shape())).toList();
                SafetensorsLayout layout = SafetensorsLayout.of(Map.of("format", "pt"), specs);
                try (SafetensorsOutput out = SafetensorsOutput.create(dir.resolve(name), layout.paddedHeaderLength())) {
                    for (int k = 0; k < specs.size(); k++) {
                        TensorInfo t = groups.get(g).get(k);
                        ByteBuffer buf = ByteBuffer.allocate((int) t.byteSize());
                        owners.get(g).get(k).file().read(t, 0, buf);
                        out.write(layout.entry(t.name()).begin(), buf.flip());
                        weightMap.put(t.name(), name);
                    }
                    out.finish(layout);
                }
                total += layout.dataLength();
            }
            ObjectNode index = JsonNodeFactory.instance.objectNode();
            index.putObject("metadata").put("total_size", total);
            ObjectNode map = index.putObject("weight_map");
            weightMap.forEach(map::put);
            Files.writeString(dir.resolve(Checkpoint.INDEX_FILE), PythonJson.toIndentedSorted(index), StandardCharsets.UTF_8);
            Files.copy(source.resolve(Checkpoint.CONFIG_FILE), dir.resolve(Checkpoint.CONFIG_FILE));
            for (Path p : c.otherFiles()) {
                Files.copy(p, dir.resolve(p.getFileName().toString()));
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int group(String name, int layers) {
        if (name.startsWith("model.layers.")) {
            String rest = name.substring("model.layers.".length());
            return 1 + Integer.parseInt(rest.substring(0, rest.indexOf('.')));
        }
        return name.contains("embed_tokens") ? 0 : layers + 1;
    }
}
