package io.quantflow.core.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * Which files of a remote model are fetched: the safetensors weights (only the shards the index
 * names, when there is one), the index, config.json, generation/tokenizer/chat-template files and
 * PEFT adapter files. Nothing else: no pickle, no other framework's weights, nothing in a
 * subfolder. A model whose only weights are pickle files is refused before anything is fetched.
 */
public final class FileSelection {
    static final String ADAPTER_CONFIG = "adapter_config.json";
    static final String ADAPTER_WEIGHTS = "adapter_model.safetensors";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> EXACT = Set.of(Checkpoint.CONFIG_FILE, Checkpoint.INDEX_FILE, "generation_config.json",
            "special_tokens_map.json", "added_tokens.json", "vocab.json", "vocab.txt", "merges.txt", "spiece.model",
            "sentencepiece.bpe.model", "preprocessor_config.json", "processor_config.json", ADAPTER_CONFIG);
    private static final List<String> PICKLE_SUFFIXES = List.of(".bin", ".pt", ".pth", ".ckpt", ".pkl");

    private FileSelection() {
    }

    /**
     * The files to fetch before the weights: config, tokenizer and friends, and the shard index
     * (which says which weight files to fetch). Refuses a pickle-only model.
     *
     * @param names the model's top-level file names
     */
    public static List<String> metadata(Collection<String> names, String uri) {
        refusePickleOnly(names, uri);
        List<String> out = new ArrayList<>();
        for (String n : new TreeSet<>(names)) {
            if (isSafeName(n) && isMetadata(n)) {
                out.add(n);
            }
        }
        return out;
    }

    /**
     * The weight files to fetch: the shards the index names (each of which must exist), else
     * {@code model.safetensors}, else every top-level safetensors file; and the adapter's weights.
     *
     * @param index the fetched shard index, or null when the model has none
     */
    public static List<String> weights(Collection<String> names, Path index, String uri) {
        Set<String> out = new TreeSet<>();
        if (index != null) {
            for (String shard : shardsOf(index, uri)) {
                if (!names.contains(shard)) {
                    throw QuantflowException.of(Reason.SHARD_MISSING, uri + ": " + Checkpoint.INDEX_FILE + " names shard " + shard
                            + ", which is not in the repository");
                }
                out.add(shard);
            }
        } else if (names.contains(Checkpoint.SINGLE_FILE)) {
            out.add(Checkpoint.SINGLE_FILE);
        } else {
            for (String n : names) {
                if (isSafeName(n) && n.endsWith(".safetensors")) {
                    out.add(n);
                }
            }
        }
        if (names.contains(ADAPTER_WEIGHTS)) {
            out.add(ADAPTER_WEIGHTS);
        }
        return List.copyOf(out);
    }

    /** Whether a name is one file in the model's top folder that may be written into a local folder. */
    public static boolean isSafeName(String n) {
        return !n.isEmpty() && n.length() <= 255 && !n.startsWith(".") && n.indexOf('/') < 0 && n.indexOf('\\') < 0
                && n.chars().noneMatch(c -> c < ' ' || c == 0x7f);
    }

    static boolean isMetadata(String n) {
        String l = n.toLowerCase(Locale.ROOT);
        return EXACT.contains(n) || l.startsWith("tokenizer") && (l.endsWith(".json") || l.endsWith(".model"))
                || l.startsWith("chat_template") && (l.endsWith(".jinja") || l.endsWith(".json"))
                || l.endsWith(".tiktoken");
    }

    private static void refusePickleOnly(Collection<String> names, String uri) {
        boolean safetensors = names.stream().anyMatch(n -> n.endsWith(".safetensors"));
        List<String> pickles = names.stream()
                .filter(n -> PICKLE_SUFFIXES.stream().anyMatch(s -> n.toLowerCase(Locale.ROOT).endsWith(s))).sorted().toList();
        if (!safetensors && !pickles.isEmpty()) {
            throw QuantflowException.of(Reason.PICKLE_WEIGHTS, uri + " holds only pickle weights (" + pickles.get(0)
                    + (pickles.size() > 1 ? " and " + (pickles.size() - 1) + " more" : "")
                    + "), which quantflow never loads because unpickling runs code; use a revision or a copy of the model"
                    + " saved as safetensors (save_pretrained(..., safe_serialization=True))");
        }
        if (!safetensors) {
            throw QuantflowException.of(Reason.NO_WEIGHTS, uri + " holds no safetensors weights");
        }
    }

    private static List<String> shardsOf(Path index, String uri) {
        JsonNode map;
        try {
            if (Files.size(index) > 64L << 20) {
                throw QuantflowException.of(Reason.JSON_TOO_LARGE, uri + ": " + Checkpoint.INDEX_FILE + " is larger than 64 MB");
            }
            map = JSON.readTree(index.toFile()).get("weight_map");
        } catch (IOException e) {
            throw QuantflowException.of(Reason.JSON_MALFORMED, uri + ": " + Checkpoint.INDEX_FILE + " is not valid JSON");
        }
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw QuantflowException.of(Reason.INDEX_MALFORMED, uri + ": " + Checkpoint.INDEX_FILE + " has no weight_map");
        }
        Set<String> shards = new TreeSet<>();
        for (Iterator<JsonNode> it = map.elements(); it.hasNext(); ) {
            JsonNode v = it.next();
            if (!v.isTextual() || !isSafeName(v.textValue()) || !v.textValue().endsWith(".safetensors")) {
                throw QuantflowException.of(Reason.INDEX_MALFORMED, uri + ": " + Checkpoint.INDEX_FILE + " names an unacceptable shard file");
            }
            shards.add(v.textValue());
        }
        return List.copyOf(shards);
    }
}
