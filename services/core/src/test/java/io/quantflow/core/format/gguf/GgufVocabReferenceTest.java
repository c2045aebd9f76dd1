package io.quantflow.core.format.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GgufVocab against convert_hf_to_gguf.py itself: for each case of vocab/cases.json (real Llama 3, Llama 3.1, Qwen3,
 * Qwen2.5, Llama 2 and Mistral tokenizers, a SentencePiece tokenizer.model of every piece type, CodeLlama's padding
 * and named chat templates) the model directory is built as scripts/reference/gguf_vocab_reference.py built it, and
 * every tokenizer.* entry GgufVocab puts must have the key, the place, the type, the count and the exact bytes
 * (sha256) of the entry llama.cpp's converter wrote (vocab/reference.json).
 */
class GgufVocabReferenceTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Path VOCAB = resources();

    static Path resources() {
        try {
            return Path.of(GgufVocabReferenceTest.class.getResource("vocab/cases.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Stream<String> cases() throws IOException {
        List<String> names = new ArrayList<>();
        JSON.readTree(VOCAB.resolve("cases.json").toFile()).fieldNames().forEachRemaining(names::add);
        return names.stream();
    }

    /** The model directory of a case, as gguf_vocab_reference.py's build() makes it. */
    static ObjectNode build(String name, Path dir) throws IOException {
        JsonNode c = JSON.readTree(VOCAB.resolve("cases.json").toFile()).get(name);
        for (Iterator<Map.Entry<String, JsonNode>> it = c.get("files").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            Path to = dir.resolve(f.getKey());
            Files.createDirectories(to.getParent());
            Path from = VOCAB.resolve(f.getValue().textValue());
            if (from.toString().endsWith(".gz")) {
                try (InputStream in = new GZIPInputStream(Files.newInputStream(from))) {
                    Files.copy(in, to);
                }
            } else {
                Files.copy(from, to);
            }
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = c.path("patch").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> p = it.next();
            ObjectNode j = (ObjectNode) JSON.readTree(dir.resolve(p.getKey()).toFile());
            p.getValue().fields().forEachRemaining(e -> {
                if (e.getValue().isNull()) {
                    j.remove(e.getKey());
                } else {
                    j.set(e.getKey(), e.getValue());
                }
            });
            JSON.writeValue(dir.resolve(p.getKey()).toFile(), j);
        }
        ObjectNode config = (ObjectNode) c.get("config");
        JSON.writeValue(dir.resolve("config.json").toFile(), config);
        return config;
    }

    @ParameterizedTest
    @MethodSource("cases")
    void theTokenizerKeysAreTheConvertersByteForByte(String name, @TempDir Path dir) throws IOException {
        ObjectNode config = build(name, dir);
        JsonNode expected = JSON.readTree(VOCAB.resolve("reference.json").toFile()).get("cases").get(name);
        if (expected.has("error")) {
            QuantflowException e = assertThrows(QuantflowException.class, () -> GgufVocab.read(dir, config));
            assertEquals(ErrorCode.UNSUPPORTED_MODEL, e.code(), e.oneLine());
            assertTrue(expected.get("error").asText().contains("pre-tokenizer was not recognized"), expected.get("error").asText());
            assertTrue(e.getMessage().contains("pre-tokenizer"), e.getMessage());
            return;
        }
        GgufMetadata md = new GgufMetadata();
        GgufVocab.read(dir, config).addTo(md);
        List<String> keys = new ArrayList<>(md.entries().keySet());
        List<String> expectedKeys = new ArrayList<>();
        expected.get("entries").forEach(e -> expectedKeys.add(e.get("key").asText()));
        assertEquals(expectedKeys, keys, name + ": the keys and their order");
        for (JsonNode e : expected.get("entries")) {
            String key = e.get("key").asText();
            GgufMetadata.Value v = md.get(key);
            assertEquals(e.get("type").asText(), v.type().name(), name + " " + key);
            if (e.has("elementType")) {
                assertEquals(e.get("elementType").asText(), v.elementType().name(), name + " " + key);
                assertEquals(e.get("count").asInt(), ((List<?>) v.value()).size(), name + " " + key);
            } else if (!e.get("value").isTextual() || !e.get("value").asText().endsWith("...")) {
                JsonNode actual = JSON.valueToTree(v.value());
                if (actual.isNumber()) {
                    assertEquals(e.get("value").longValue(), actual.longValue(), name + " " + key);
                } else {
                    assertEquals(e.get("value"), actual, name + " " + key);
                }
            }
            byte[] bytes = KvBytes.of(key, v);
            assertEquals(e.get("bytes").asLong(), bytes.length, name + " " + key + ": its size in bytes");
            assertEquals(e.get("sha256").asText(), KvBytes.sha256(bytes), name + " " + key + ": its bytes");
        }
    }
}
