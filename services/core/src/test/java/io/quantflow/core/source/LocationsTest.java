package io.quantflow.core.source;

import io.quantflow.core.cache.CacheKey;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.Formats;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.storage.S3Credentials;
import io.quantflow.core.storage.S3Settings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Locations, variants files, file selection, settings and cache keys: what users type, read strictly. */
class LocationsTest {
    @TempDir
    Path tmp;

    @Test
    void locationsParseAsUsersWriteThem() {
        assertEquals(new ModelLocation.Hub(new RepoId("meta-llama/Llama-3.1-8B"), null), ModelLocation.parse("hf://meta-llama/Llama-3.1-8B"));
        assertEquals(new ModelLocation.Hub(new RepoId("org/m"), "refs/pr/1"), ModelLocation.parse("hf://org/m@refs/pr/1"));
        assertEquals(new ModelLocation.Hub(new RepoId("gpt2"), null), ModelLocation.parse("HF://gpt2"));
        assertEquals(new ModelLocation.S3("bucket", "a/b"), ModelLocation.parse("s3://bucket/a/b/"));
        assertEquals(new ModelLocation.S3("bucket", ""), ModelLocation.parse("s3://bucket"));
        assertEquals(new ModelLocation.Local(Path.of("/data/model x")), ModelLocation.parse("file:///data/model%20x"));
        assertEquals(new ModelLocation.Local(Path.of("models/tiny")), ModelLocation.parse("models/tiny"));
        assertEquals("hf://org/m@v1", ModelLocation.parse("hf://org/m@v1").uri());
        assertEquals("meta-llama/llama-3.1-8b", new RepoId("Meta-Llama/Llama-3.1-8B").key());
        assertEquals("models--meta-llama--llama-3.1-8b", new RepoId("Meta-Llama/Llama-3.1-8B").folderName());
    }

    @Test
    void malformedLocationsAreInvalidRequests() {
        for (String bad : List.of("hf://", "hf://a/b/c", "hf://a--b/c", "hf://a/../b", "hf://org/m@", "hf://org/m@a..b", "hf://org/m@x y",
                "s3://", "s3://B/x", "s3://bucket/a//b", "s3://bucket/../x", "gs://bucket/x", "file://host/x", "file:relative", " ")) {
            QuantflowException e = assertThrows(QuantflowException.class, () -> ModelLocation.parse(bad), bad);
            assertEquals(ErrorCode.INVALID_REQUEST, e.code(), bad);
            assertEquals(Reason.LOCATION_INVALID, e.reason(), bad);
        }
    }

    @Test
    void variantsFilesAreReadStrictly() throws IOException {
        Path f = tmp.resolve("variants");
        Files.writeString(f, "# comment\n\nmeta-llama/Llama-3.1-8B -> unsloth/Llama-3.1-8B-bnb-4bit   # trailing\n"
                + "hf://org/a->hf://org/a-4bit@v2\n");
        VariantMap m = VariantMap.read(f);
        assertEquals(2, m.size());
        assertEquals("hf://unsloth/Llama-3.1-8B-bnb-4bit", m.variantOf(new RepoId("META-LLAMA/llama-3.1-8b")).orElseThrow().uri());
        assertEquals("v2", m.variantOf(new RepoId("org/a")).orElseThrow().revision());
        assertTrue(m.variantOf(new RepoId("org/b")).isEmpty());
        for (String bad : List.of("a/b", "a/b -> ", "a/b -> c/d -> e/f", "a/b@v1 -> c/d", "a/b -> A/B", "a/b -> s3://x/y",
                "a/b -> c/d\nA/B -> e/f")) {
            Files.writeString(f, bad + "\n");
            QuantflowException e = assertThrows(QuantflowException.class, () -> VariantMap.read(f), bad);
            assertEquals(ErrorCode.INVALID_REQUEST, e.code());
            assertEquals(Reason.VARIANTS_FILE_INVALID, e.reason(), e.getMessage());
            assertTrue(e.getMessage().contains(f + " line "), e.getMessage());
        }
        refused(ErrorCode.INVALID_REQUEST, Reason.VARIANTS_FILE_INVALID, () -> VariantMap.read(tmp.resolve("none")));
    }

    @Test
    void fileSelectionTakesWeightsConfigTokenizerAndAdapterFilesOnly() {
        List<String> names = List.of("config.json", "generation_config.json", "model.safetensors", "pytorch_model.bin", "README.md",
                "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json", "chat_template.jinja",
                "adapter_config.json", "adapter_model.safetensors", "flax_model.msgpack", ".gitattributes", "LICENSE");
        assertEquals(List.of("adapter_config.json", "chat_template.jinja", "config.json", "generation_config.json",
                "special_tokens_map.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json"), FileSelection.metadata(names, "x"));
        assertEquals(List.of("adapter_model.safetensors", "model.safetensors"), FileSelection.weights(names, null, "x"));
        assertEquals(List.of("a.safetensors", "b.safetensors"), FileSelection.weights(List.of("a.safetensors", "b.safetensors"), null, "x"));
        refused(ErrorCode.UNSUPPORTED_MODEL, Reason.PICKLE_WEIGHTS,
                () -> FileSelection.metadata(List.of("config.json", "pytorch_model-00001-of-00002.bin"), "x"));
        refused(ErrorCode.INVALID_CHECKPOINT, Reason.NO_WEIGHTS, () -> FileSelection.metadata(List.of("config.json"), "x"));
        for (String n : List.of("../x", "a/b", ".hidden", "a\\b", "x\ny")) {
            assertFalse(FileSelection.isSafeName(n), n);
        }
    }

    @Test
    void anIndexNamingAMissingShardIsRefused() throws IOException {
        Path index = tmp.resolve("model.safetensors.index.json");
        Files.writeString(index, "{\"weight_map\":{\"a\":\"model-1.safetensors\",\"b\":\"model-2.safetensors\"}}");
        assertEquals(List.of("model-1.safetensors", "model-2.safetensors"),
                FileSelection.weights(List.of("model-1.safetensors", "model-2.safetensors", "consolidated.safetensors"), index, "x"));
        refused(ErrorCode.INVALID_CHECKPOINT, Reason.SHARD_MISSING, () -> FileSelection.weights(List.of("model-1.safetensors"), index, "x"));
        Files.writeString(index, "{\"weight_map\":{\"a\":\"../escape.safetensors\"}}");
        refused(ErrorCode.INVALID_CHECKPOINT, Reason.INDEX_MALFORMED, () -> FileSelection.weights(List.of("model-1.safetensors"), index, "x"));
    }

    @Test
    void settingsNeverShowTheirSecretsAndRefuseCredentialsInUrls() {
        HubSettings hub = HubSettings.from(null, Map.of("HF_TOKEN", "hf_abcdef", "HF_ENDPOINT", "http://127.0.0.1:8080/"), 2);
        assertEquals("http://127.0.0.1:8080", hub.endpoint().toString());
        assertFalse(hub.toString().contains("hf_abcdef"), hub.toString());
        assertEquals("https://huggingface.co", HubSettings.from(null, Map.of(), 1).endpoint().toString());
        refused(ErrorCode.INVALID_REQUEST, Reason.SETTINGS_INVALID, () -> HubSettings.from("http://user:pw@host", Map.of(), 1));
        QuantflowException badToken = refused(ErrorCode.INVALID_REQUEST, Reason.CREDENTIALS_INVALID,
                () -> HubSettings.from(null, Map.of("HF_TOKEN", "hf_a\nb"), 1));
        assertFalse(badToken.getMessage().contains("hf_a"));

        S3Settings s3 = S3Settings.fromEnvironment(
                Map.of("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY", "s3cr3t", "AWS_ENDPOINT_URL", "http://127.0.0.1:9000"), 1);
        assertTrue(s3.pathStyle());
        assertEquals("us-east-1", s3.region());
        assertFalse(s3.toString().contains("s3cr3t") || s3.toString().contains("AKIDEXAMPLE"), s3.toString());
        assertFalse(S3Settings.from(null, "eu-west-1", null, null, Map.of("HOME", tmp.toString()), 1).pathStyle());
        assertTrue(S3Settings.fromEnvironment(Map.of("HOME", tmp.toString()), 1).credentials() instanceof S3Credentials.Anonymous);
        refused(ErrorCode.INVALID_REQUEST, Reason.CREDENTIALS_INVALID,
                () -> S3Settings.fromEnvironment(Map.of("AWS_ACCESS_KEY_ID", "x"), 1));
        refused(ErrorCode.INVALID_REQUEST, Reason.SETTINGS_INVALID, () -> S3Settings.from("http://k:s@host", null, null, null, Map.of(), 1));
    }

    /** Asserts the action fails with the code and the reason. */
    private static QuantflowException refused(ErrorCode code, Reason reason, Executable action) {
        QuantflowException e = assertThrows(QuantflowException.class, action);
        assertEquals(code, e.code(), e.getMessage());
        assertEquals(reason, e.reason(), e.getMessage());
        return e;
    }

    @Test
    void cacheKeysChangeWithEverythingTheBytesDependOn() {
        QuantOptions q = QuantOptions.defaults();
        String k = CacheKey.of("git:abc", null, List.of(Formats.BNB_4BIT), q, null);
        assertEquals(k, CacheKey.of("git:abc", null, List.of(Formats.BNB_4BIT), QuantOptions.defaults(), null));
        assertNotEquals(k, CacheKey.of("git:abd", null, List.of(Formats.BNB_4BIT), q, null));
        assertNotEquals(k, CacheKey.of("git:abc", "git:x", List.of(Formats.BNB_4BIT), q, null));
        assertNotEquals(k, CacheKey.of("git:abc", null, List.of(Formats.BNB_4BIT), new QuantOptions(QuantType.FP4, true, 64, DType.BF16, List.of()), null));
        assertNotEquals(k, CacheKey.of("git:abc", null, List.of(Formats.BNB_4BIT), new QuantOptions(QuantType.NF4, true, 128, DType.BF16, List.of()), null));
        assertNotEquals(k, CacheKey.of("git:abc", null, List.of(Formats.BNB_4BIT), new QuantOptions(QuantType.NF4, true, 64, DType.BF16, List.of("mlp")), null));
        assertEquals(CacheKey.of("s", "a", List.of(Formats.MERGED_16BIT, Formats.LORA), q, DType.F16),
                CacheKey.of("s", "a", List.of(Formats.LORA, Formats.MERGED_16BIT), q, DType.F16));
        assertNotEquals(CacheKey.of("s", "a", List.of(Formats.MERGED_16BIT), q, DType.F16),
                CacheKey.of("s", "a", List.of(Formats.MERGED_16BIT), q, DType.BF16));
    }
}
