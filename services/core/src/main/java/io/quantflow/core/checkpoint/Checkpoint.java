package io.quantflow.core.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.TensorInfo;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A Hugging Face style model directory opened for conversion: its safetensors shards (validated),
 * the shard index when there is one, config.json, and every other top-level file that travels with
 * the weights unchanged (generation config, tokenizer files, chat template, licence, model card...).
 */
public final class Checkpoint implements AutoCloseable {
    public static final String INDEX_FILE = "model.safetensors.index.json";
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String CONFIG_FILE = "config.json";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> PICKLE_SUFFIXES = List.of(".bin", ".pt", ".pth", ".ckpt", ".pkl");

    private final Path dir;
    private final List<Shard> shards;
    private final boolean indexed;
    private final ObjectNode config;
    private final List<Path> otherFiles;

    /** One weight file and its validated header. */
    public record Shard(String fileName, SafetensorsFile file) {
    }

    private Checkpoint(Path dir, List<Shard> shards, boolean indexed, ObjectNode config, List<Path> otherFiles) {
        this.dir = dir;
        this.shards = shards;
        this.indexed = indexed;
        this.config = config;
        this.otherFiles = otherFiles;
    }

    public static Checkpoint open(Path dir) {
        if (!Files.exists(dir)) {
            throw QuantflowException.of(Reason.NO_SUCH_DIRECTORY, dir + ": no such directory");
        }
        if (!Files.isDirectory(dir)) {
            throw QuantflowException.of(Reason.NOT_A_DIRECTORY,
                    dir + " is a file; SOURCE is the model directory that holds config.json and the safetensors files");
        }
        if (!Files.isReadable(dir)) {
            throw QuantflowException.of(Reason.PERMISSION_DENIED, dir + ": permission denied");
        }
        List<Path> files = listFiles(dir);
        Map<String, Path> byName = new HashMap<>();
        for (Path f : files) {
            byName.put(f.getFileName().toString(), f);
        }
        List<Shard> shards = new ArrayList<>();
        boolean indexed = byName.containsKey(INDEX_FILE);
        try {
            List<String> shardNames = indexed ? readIndex(byName.get(INDEX_FILE), dir) : findSingleFile(byName, dir);
            for (String name : shardNames) {
                Path p = dir.resolve(name);
                if (!Files.isRegularFile(p)) {
                    throw QuantflowException.of(Reason.SHARD_MISSING, INDEX_FILE + " names shard " + name + ", which is missing");
                }
                shards.add(new Shard(name, SafetensorsFile.open(p)));
            }
            if (indexed) {
                checkIndexAgainstShards(byName.get(INDEX_FILE), shards);
            }
            Path configFile = byName.get(CONFIG_FILE);
            ObjectNode config = configFile == null ? null : readConfig(configFile);
            List<Path> other = new ArrayList<>();
            for (Path f : files) {
                String n = f.getFileName().toString();
                if (carriedAlong(n)) {
                    other.add(f);
                }
            }
            return new Checkpoint(dir, List.copyOf(shards), indexed, config, List.copyOf(other));
        } catch (RuntimeException e) {
            shards.forEach(s -> s.file().close());
            throw e;
        }
    }

    private static List<Path> listFiles(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isRegularFile).sorted().toList();
        } catch (AccessDeniedException e) {
            throw QuantflowException.of(Reason.PERMISSION_DENIED, dir + ": permission denied");
        } catch (IOException e) {
            throw QuantflowException.of(Reason.SOURCE_UNREADABLE, dir + ": cannot list (" + e.getMessage() + ")");
        }
    }

    private static List<String> findSingleFile(Map<String, Path> byName, Path dir) {
        if (byName.containsKey(SINGLE_FILE)) {
            return List.of(SINGLE_FILE);
        }
        List<String> candidates = byName.keySet().stream()
                .filter(n -> n.endsWith(".safetensors") && !n.startsWith("adapter_model")).sorted().toList();
        if (candidates.size() == 1) {
            return candidates;
        }
        if (candidates.size() > 1) {
            throw QuantflowException.of(Reason.WEIGHTS_AMBIGUOUS, dir + " holds " + candidates.size()
                    + " safetensors files but no " + INDEX_FILE + " saying how they form one model");
        }
        boolean pickle = byName.keySet().stream().anyMatch(n -> PICKLE_SUFFIXES.stream().anyMatch(n::endsWith));
        if (pickle) {
            throw QuantflowException.of(Reason.PICKLE_WEIGHTS, dir
                    + " holds only pickle weights (.bin/.pt), which quantflow never loads because unpickling runs code;"
                    + " convert them to safetensors first (e.g. save_pretrained(..., safe_serialization=True))");
        }
        if (byName.containsKey("adapter_config.json")) {
            throw QuantflowException.of(Reason.SOURCE_IS_ADAPTER, dir
                    + " is a LoRA adapter, not a model; pass the base model as SOURCE");
        }
        throw QuantflowException.of(Reason.NO_WEIGHTS, dir + " holds no safetensors weights");
    }

    private static List<String> readIndex(Path index, Path dir) {
        JsonNode root = readJson(index, INDEX_FILE);
        JsonNode map = root.get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw QuantflowException.of(Reason.INDEX_MALFORMED, INDEX_FILE + " has no weight_map");
        }
        List<String> names = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw QuantflowException.of(Reason.INDEX_MALFORMED, INDEX_FILE + ": shard of " + e.getKey() + " is not a file name");
            }
            String shard = e.getValue().textValue();
            if (shard.contains("/") || shard.contains("\\") || shard.startsWith(".") || !shard.endsWith(".safetensors")) {
                throw QuantflowException.of(Reason.INDEX_MALFORMED, INDEX_FILE + " names an unacceptable shard file '" + shard + "'");
            }
            if (!names.contains(shard)) {
                names.add(shard);
            }
        }
        names.sort(String::compareTo);
        return names;
    }

    /**
     * Which shard holds each tensor.
     *
     * @throws QuantflowException INVALID_CHECKPOINT when a tensor is in two shards
     */
    public static Map<String, String> tensorLocations(List<Shard> shards) {
        Map<String, String> where = new HashMap<>();
        for (Shard s : shards) {
            for (TensorInfo t : s.file().header().tensors()) {
                String prev = where.put(t.name(), s.fileName());
                if (prev != null) {
                    throw QuantflowException.of(Reason.SHARDS_INCONSISTENT, "tensor " + t.name() + " is in both " + prev + " and " + s.fileName());
                }
            }
        }
        return where;
    }

    private static void checkIndexAgainstShards(Path index, List<Shard> shards) {
        JsonNode map = readJson(index, INDEX_FILE).get("weight_map");
        Map<String, String> where = tensorLocations(shards);
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String actual = where.get(e.getKey());
            if (!e.getValue().textValue().equals(actual)) {
                throw QuantflowException.of(Reason.SHARDS_INCONSISTENT, INDEX_FILE + " places " + e.getKey() + " in "
                        + e.getValue().textValue() + (actual == null ? ", but no shard holds it" : ", but it is in " + actual));
            }
        }
        if (where.size() != map.size()) {
            String stray = where.keySet().stream().filter(n -> !map.has(n)).sorted().findFirst().orElse("?");
            throw QuantflowException.of(Reason.SHARDS_INCONSISTENT, "tensor " + stray + " is in a shard but not in " + INDEX_FILE);
        }
    }

    /** Reads a config.json, checked as {@link #open} checks a model's (INVALID_CHECKPOINT when malformed). */
    public static ObjectNode readConfig(Path config) {
        JsonNode n = readJson(config, CONFIG_FILE);
        if (!n.isObject()) {
            throw QuantflowException.of(Reason.JSON_MALFORMED, CONFIG_FILE + " is not a JSON object");
        }
        return (ObjectNode) n;
    }

    private static JsonNode readJson(Path p, String what) {
        try {
            if (Files.size(p) > 64L << 20) {
                throw QuantflowException.of(Reason.JSON_TOO_LARGE, what + " is larger than 64 MB");
            }
            return JSON.readTree(p.toFile());
        } catch (IOException e) {
            throw QuantflowException.of(Reason.JSON_MALFORMED, what + " is not valid JSON (" + firstLine(e.getMessage()) + ")");
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unreadable";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /**
     * Whether a top-level file of a model directory travels with the weights unchanged (one of
     * {@link #otherFiles()}): not a weight file, an index, config.json or a hidden file.
     */
    public static boolean carriedAlong(String fileName) {
        return !isWeightOrIndex(fileName) && !fileName.equals(CONFIG_FILE) && !fileName.startsWith(".");
    }

    private static boolean isWeightOrIndex(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.endsWith(".safetensors") || n.equals(INDEX_FILE) || n.endsWith(".safetensors.index.json")
                || n.endsWith(".bin.index.json") || PICKLE_SUFFIXES.stream().anyMatch(n::endsWith)
                || n.endsWith(".gguf") || n.endsWith(".h5") || n.endsWith(".msgpack") || n.endsWith(".onnx")
                || n.equals("quantflow-manifest.json");
    }

    public Path dir() {
        return dir;
    }

    public List<Shard> shards() {
        return shards;
    }

    /** Whether the source came with a shard index (the output then has one too). */
    public boolean indexed() {
        return indexed;
    }

    /** config.json as parsed, or null when the directory has none. */
    public ObjectNode config() {
        return config == null ? null : config.deepCopy();
    }

    /** Top-level files other than weights, index and config.json, carried along unchanged. */
    public List<Path> otherFiles() {
        return otherFiles;
    }

    /** Every tensor with the shard that holds it, in shard then offset order. */
    public Map<String, TensorInfo> tensors() {
        Map<String, TensorInfo> m = new LinkedHashMap<>();
        for (Shard s : shards) {
            for (TensorInfo t : s.file().header().tensors()) {
                m.put(t.name(), t);
            }
        }
        return m;
    }

    public long parameters() {
        return parameters(shards);
    }

    /** Bytes of tensor data in all shards. */
    public long weightBytes() {
        return weightBytes(shards);
    }

    /** Bytes on disk of all shards including their headers. */
    public long shardFileBytes() {
        long n = 0;
        for (Shard s : shards) {
            n += s.file().dataStart() + s.file().header().dataLength();
        }
        return n;
    }

    /** Element type of most weight bytes (what the model is "in"). */
    public DType dominantDtype() {
        return dominantDtype(shards);
    }

    /** Elements of every tensor of {@code shards}: the parameters of the model they make up. */
    public static long parameters(List<Shard> shards) {
        long n = 0;
        for (Shard s : shards) {
            for (TensorInfo t : s.file().header().tensors()) {
                n += t.elements();
            }
        }
        return n;
    }

    /** Bytes of tensor data in {@code shards}. */
    public static long weightBytes(List<Shard> shards) {
        long n = 0;
        for (Shard s : shards) {
            n += s.file().header().dataLength();
        }
        return n;
    }

    /** Element type of most weight bytes of {@code shards}. */
    public static DType dominantDtype(List<Shard> shards) {
        Map<DType, Long> bytes = new TreeMap<>();
        for (Shard s : shards) {
            for (TensorInfo t : s.file().header().tensors()) {
                bytes.merge(t.dtype(), t.byteSize(), Long::sum);
            }
        }
        return bytes.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(DType.BF16);
    }

    @Override
    public void close() {
        shards.forEach(s -> s.file().close());
    }
}
