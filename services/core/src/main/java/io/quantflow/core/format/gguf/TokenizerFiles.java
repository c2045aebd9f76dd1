package io.quantflow.core.format.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The tokenizer files of a model directory as {@code convert_hf_to_gguf.py} finds them: tokenizer.json,
 * tokenizer_config.json, tokenizer.model, added_tokens.json, merges.txt, the chat template files, and config.json as
 * the caller parsed it. Each JSON file is read once, size-checked first.
 */
final class TokenizerFiles {
    static final String TOKENIZER_JSON = "tokenizer.json";
    static final String TOKENIZER_CONFIG = "tokenizer_config.json";
    static final String TOKENIZER_MODEL = "tokenizer.model";
    private static final long MAX_JSON = 256L << 20;
    private static final long MAX_MODEL = 64L << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final JsonNode config;
    private JsonNode tokenizerJson;
    private JsonNode tokenizerConfig;
    private boolean tokenizerJsonRead;
    private boolean tokenizerConfigRead;

    TokenizerFiles(Path dir, JsonNode config) {
        this.dir = dir;
        this.config = config;
    }

    Path dir() {
        return dir;
    }

    /** config.json as the caller parsed it, or null. */
    JsonNode config() {
        return config;
    }

    /** A hyperparameter as convert_hf_to_gguf.py's hparams hold it: text_config's value over the top level's. */
    JsonNode hparam(String key) {
        if (config == null) {
            return null;
        }
        JsonNode text = config.get("text_config");
        if (text != null && text.isObject() && text.has(key)) {
            return text.get(key);
        }
        return config.get(key);
    }

    boolean has(String name) {
        return Files.isRegularFile(dir.resolve(name));
    }

    /** tokenizer.json, or null when there is none. */
    JsonNode tokenizerJson() {
        if (!tokenizerJsonRead) {
            tokenizerJson = has(TOKENIZER_JSON) ? readJson(TOKENIZER_JSON) : null;
            tokenizerJsonRead = true;
        }
        return tokenizerJson;
    }

    /** tokenizer_config.json, or null when there is none. */
    JsonNode tokenizerConfig() {
        if (!tokenizerConfigRead) {
            tokenizerConfig = has(TOKENIZER_CONFIG) ? readJson(TOKENIZER_CONFIG) : null;
            tokenizerConfigRead = true;
        }
        return tokenizerConfig;
    }

    /** tokenizer_config.json's value for {@code key}, or null. */
    JsonNode tokenizerConfig(String key) {
        JsonNode tc = tokenizerConfig();
        return tc == null ? null : tc.get(key);
    }

    /** added_tokens.json, or null when there is none. */
    JsonNode addedTokensJson() {
        return has("added_tokens.json") ? readJson("added_tokens.json") : null;
    }

    /** special_tokens_map.json, or null when there is none. */
    JsonNode specialTokensMap() {
        return has("special_tokens_map.json") ? readJson("special_tokens_map.json") : null;
    }

    SentencePieceModel sentencePieceModel() {
        return SentencePieceModel.parse(readBytes(TOKENIZER_MODEL, MAX_MODEL), TOKENIZER_MODEL);
    }

    /**
     * The chat template when tokenizer_config.json has none (gguf-py's order): chat_template.jinja, with the files of
     * additional_chat_templates/ as named ones beside it, else chat_template.json's {@code chat_template}; null if none.
     */
    JsonNode chatTemplateAlternative() {
        if (has("chat_template.jinja")) {
            String main = readText("chat_template.jinja");
            Path more = dir.resolve("additional_chat_templates");
            List<Path> extra = new ArrayList<>();
            if (Files.isDirectory(more)) {
                try (Stream<Path> s = Files.list(more)) {
                    // gguf-py takes them in the directory's listing order; sorted here so that the output is stable
                    s.filter(p -> p.getFileName().toString().endsWith(".jinja")).sorted().forEach(extra::add);
                } catch (IOException e) {
                    throw QuantflowException.ioFailure("cannot list " + more, e);
                }
            }
            if (extra.isEmpty()) {
                return JsonNodeFactory.instance.textNode(main);
            }
            var list = JsonNodeFactory.instance.arrayNode();
            list.addObject().put("name", "default").put("template", main);
            for (Path p : extra) {
                String file = p.getFileName().toString();
                list.addObject().put("name", file.substring(0, file.length() - ".jinja".length()))
                        .put("template", readText("additional_chat_templates/" + file));
            }
            return list;
        }
        if (has("chat_template.json")) {
            JsonNode j = readJson("chat_template.json");
            return j.get("chat_template");
        }
        return null;
    }

    /** merges.txt as gguf-py reads it (a leading "#" line skipped, blank and malformed lines dropped); empty if none. */
    List<String> mergesTxt() {
        if (!has("merges.txt")) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        List<String> lines = readText("merges.txt").lines().toList();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (i == 0 && line.startsWith("#") || line.isEmpty()) {
                continue;
            }
            String[] parts = line.split("\\s+", 4);
            if (parts.length == 2) {
                out.add(parts[0] + " " + parts[1]);
            }
        }
        return out;
    }

    private String readText(String name) {
        return new String(readBytes(name, MAX_JSON), StandardCharsets.UTF_8);
    }

    private byte[] readBytes(String name, long max) {
        Path p = dir.resolve(name);
        try {
            if (Files.size(p) > max) {
                throw QuantflowException.of(Reason.TOKENIZER_MALFORMED, name + " is larger than " + (max >> 20) + " MB");
            }
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot read " + p, e);
        }
    }

    private JsonNode readJson(String name) {
        byte[] bytes = readBytes(name, MAX_JSON);
        try {
            JsonNode n = JSON.readTree(bytes);
            if (n == null || !n.isObject()) {
                throw QuantflowException.of(Reason.TOKENIZER_MALFORMED, name + " is not a JSON object");
            }
            return (ObjectNode) n;
        } catch (IOException e) {
            String m = String.valueOf(e.getMessage());
            int nl = m.indexOf('\n');
            throw QuantflowException.of(Reason.TOKENIZER_MALFORMED, name + " is not valid JSON (" + (nl < 0 ? m : m.substring(0, nl)) + ")");
        }
    }
}
