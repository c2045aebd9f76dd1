package io.quantflow.cli;

import io.quantflow.core.convert.Manifest;
import io.quantflow.core.testing.HubTestServer;
import io.quantflow.core.testing.S3TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** quantflow convert with hf:// and s3:// locations, against a Hub and an S3 server on loopback. */
class SourcesCliTest {
    static final String TOKEN = "hf_test_token_QWERTY123";
    static HubTestServer hub;
    static S3TestServer s3;
    static S3Client admin;

    @TempDir
    Path tmp;

    record Run(int exit, String out, String err) {
    }

    @BeforeAll
    static void start() throws Exception {
        hub = new HubTestServer();
        Path base = CliTest.fixture("tiny-llama/base-bf16");
        hub.addRepo("tiny/llama", base);
        hub.addRepo("meta/gated-llama", base).gated(TOKEN);
        hub.addRepo("tiny/llama-bnb-4bit", CliTest.fixture("tiny-llama/base-bnb-nf4-dq"));
        hub.addRepo("old/pickled", Map.of("config.json", "{}".getBytes(), "pytorch_model.bin", new byte[] {(byte) 0x80, 2}));
    }

    @AfterAll
    static void stop() throws Exception {
        if (hub != null) {
            hub.close();
        }
        if (admin != null) {
            admin.close();
        }
        if (s3 != null) {
            s3.close();
        }
    }

    static synchronized S3TestServer s3() throws Exception {
        if (s3 == null) {
            s3 = S3TestServer.start();
            admin = s3.client();
        }
        return s3;
    }

    static synchronized Run run(Map<String, String> env, String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = QuantflowCommand.execute(env, args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    Map<String, String> env() {
        Map<String, String> env = new HashMap<>();
        env.put("QUANTFLOW_CACHE", tmp.resolve("cache").toString());
        env.put("HOME", tmp.toString());
        return env;
    }

    @Test
    void convertsAHubModelThenServesTheSameConversionFromTheCache() throws IOException {
        Path out = tmp.resolve("nf4");
        Run r = run(env(), "convert", "hf://tiny/llama", "--hub-endpoint", hub.endpoint(), "--out", out.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("converted hf://tiny/llama -> " + out), r.out());
        assertTrue(r.out().contains("pinned to commit"), r.out());
        assertTrue(r.out().contains("cached: false"), r.out());
        assertTrue(Files.isRegularFile(tmp.resolve("cache/hub/models--tiny--llama/refs/main")));

        // HF_ENDPOINT instead of the option; the same conversion
        Map<String, String> env = env();
        env.put("HF_ENDPOINT", hub.endpoint());
        Path again = tmp.resolve("again");
        Run second = run(env, "convert", "hf://tiny/llama@main", "--out", again.toString());
        assertEquals(0, second.exit(), second.err());
        assertTrue(second.out().contains("cached: true"), second.out());
        assertTrue(second.err().contains("conversion cache"), second.err());
        Manifest m = Manifest.read(again.resolve(Manifest.FILE_NAME));
        assertEquals(Boolean.TRUE, m.cached());
        assertEquals(Manifest.read(out.resolve(Manifest.FILE_NAME)).files(), m.files());

        Run fresh = run(env, "convert", "hf://tiny/llama", "--out", tmp.resolve("fresh").toString(), "--no-cache");
        assertEquals(0, fresh.exit(), fresh.err());
        assertTrue(fresh.out().contains("cached: false"), fresh.out());
    }

    @Test
    void aGatedModelWithoutATokenFailsWithAccessDeniedInOneLine() throws IOException {
        Path out = tmp.resolve("gated");
        Run r = run(env(), "convert", "hf://meta/gated-llama", "--hub-endpoint", hub.endpoint(), "--out", out.toString());
        assertEquals(3, r.exit());
        assertEquals("", r.out());
        String[] lines = r.err().strip().split("\n");
        assertEquals(1, lines.length, r.err());
        assertTrue(lines[0].startsWith("error: ACCESS_DENIED: hf://meta/gated-llama is a gated model: request access at "
                + hub.endpoint() + "/meta/gated-llama"), lines[0]);
        assertTrue(lines[0].contains("HF_TOKEN"), lines[0]);
        assertFalse(Files.exists(out));

        Map<String, String> env = env();
        env.put("HF_TOKEN", TOKEN);
        Run ok = run(env, "convert", "hf://meta/gated-llama", "--hub-endpoint", hub.endpoint(), "--out", out.toString());
        assertEquals(0, ok.exit(), ok.err());
        assertFalse(ok.out().contains(TOKEN) || ok.err().contains(TOKEN));
        try (Stream<Path> s = Files.walk(tmp)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                if (Files.size(p) < 1 << 20) {
                    assertFalse(Files.readString(p, StandardCharsets.ISO_8859_1).contains(TOKEN), p.toString());
                }
            }
        }
    }

    @Test
    void picklesAndMissingModelsAreOneLineErrors() {
        Run pickle = run(env(), "convert", "hf://old/pickled", "--hub-endpoint", hub.endpoint(), "--out", tmp.resolve("x").toString());
        assertEquals(3, pickle.exit());
        assertTrue(pickle.err().startsWith("error: UNSUPPORTED_MODEL: ") && pickle.err().contains("pickle"), pickle.err());
        assertEquals(1, pickle.err().strip().split("\n").length, pickle.err());

        Run missing = run(env(), "convert", "hf://org/nothing", "--hub-endpoint", hub.endpoint(), "--out", tmp.resolve("y").toString());
        assertEquals(3, missing.exit());
        assertTrue(missing.err().startsWith("error: SOURCE_NOT_FOUND: "), missing.err());

        Run scheme = run(env(), "convert", "gs://bucket/model", "--out", tmp.resolve("z").toString());
        assertEquals(3, scheme.exit());
        assertTrue(scheme.err().startsWith("error: INVALID_REQUEST: "), scheme.err());
    }

    @Test
    void aMappedModelUsesItsPrequantizedVariantAndSaysSo() throws IOException {
        Path variants = tmp.resolve("variants");
        Files.writeString(variants, "tiny/llama -> tiny/llama-bnb-4bit\n");
        Path out = tmp.resolve("v");
        Run r = run(env(), "convert", "hf://tiny/llama", "--hub-endpoint", hub.endpoint(), "--variants", variants.toString(),
                "--out", out.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.err().contains("note: using the pre-quantized variant hf://tiny/llama-bnb-4bit@"), r.err());
        assertTrue(r.out().contains("variant: the pre-quantized hf://tiny/llama-bnb-4bit@"), r.out());
        assertTrue(Manifest.read(out.resolve(Manifest.FILE_NAME)).variant() != null);

        Map<String, String> env = env();
        env.put("QUANTFLOW_VARIANTS", variants.toString());
        Run exact = run(env, "convert", "hf://tiny/llama", "--hub-endpoint", hub.endpoint(), "--exact-model-name",
                "--out", tmp.resolve("exact").toString());
        assertEquals(0, exact.exit(), exact.err());
        assertFalse(exact.out().contains("variant:"), exact.out());
        assertTrue(exact.err().contains("--exact-model-name"), exact.err());
    }

    @Test
    void s3SourcesAndTargetsWork() throws Exception {
        S3TestServer server = s3();
        String bucket = "qf-" + UUID.randomUUID().toString().substring(0, 8);
        admin.createBucket(b -> b.bucket(bucket));
        Path base = CliTest.fixture("tiny-llama/base-bf16");
        try (Stream<Path> s = Files.list(base)) {
            for (Path p : s.toList()) {
                admin.putObject(b -> b.bucket(bucket).key("models/tiny/" + p.getFileName()), RequestBody.fromFile(p));
            }
        }
        Map<String, String> env = env();
        env.putAll(server.environment());
        String target = "s3://" + bucket + "/out/tiny-nf4";
        Run r = run(env, "convert", "s3://" + bucket + "/models/tiny", "--out", target);
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("converted s3://" + bucket + "/models/tiny -> " + target), r.out());
        List<String> keys = admin.listObjectsV2(b -> b.bucket(bucket).prefix("out/")).contents().stream().map(S3Object::key).sorted().toList();
        assertEquals(List.of("out/tiny-nf4/README.md", "out/tiny-nf4/config.json", "out/tiny-nf4/generation_config.json", "out/tiny-nf4/model.safetensors",
                "out/tiny-nf4/quantflow-manifest.json"), keys);

        Run taken = run(env, "convert", "s3://" + bucket + "/models/tiny", "--out", target);
        assertEquals(3, taken.exit());
        assertTrue(taken.err().startsWith("error: TARGET_EXISTS: "), taken.err());

        // the endpoint from the option instead of the environment; overwrite, answered from the cache
        env.remove("AWS_ENDPOINT_URL_S3");
        Run over = run(env, "convert", "s3://" + bucket + "/models/tiny", "--out", target, "--if-exists", "overwrite",
                "--s3-endpoint", server.endpoint());
        assertEquals(0, over.exit(), over.err());
        assertTrue(over.out().contains("cached: true"), over.out());
        assertFalse((r.out() + r.err() + over.out() + over.err()).contains(S3TestServer.CREDENTIAL));

        // a pre-quantized variant from the Hub, written to S3
        Path variants = tmp.resolve("variants");
        Files.writeString(variants, "tiny/llama -> tiny/llama-bnb-4bit\n");
        Run variant = run(env, "convert", "hf://tiny/llama", "--hub-endpoint", hub.endpoint(), "--variants", variants.toString(),
                "--s3-endpoint", server.endpoint(), "--out", "s3://" + bucket + "/variant");
        assertEquals(0, variant.exit(), variant.err());
        assertTrue(variant.out().contains("variant: the pre-quantized hf://tiny/llama-bnb-4bit@"), variant.out());
        assertArrayEquals(Files.readAllBytes(CliTest.fixture("tiny-llama/base-bnb-nf4-dq/model.safetensors")),
                admin.getObjectAsBytes(b -> b.bucket(bucket).key("variant/model.safetensors")).asByteArray());
        assertTrue(admin.getObjectAsBytes(b -> b.bucket(bucket).key("variant/quantflow-manifest.json")).asUtf8String()
                .contains("\"variant\""));

        // wrong credentials: one line, no secret
        env.put("AWS_SECRET_ACCESS_KEY", "wrong-secret-value");
        Run denied = run(env, "convert", "s3://" + bucket + "/models/tiny", "--out", tmp.resolve("d").toString(),
                "--s3-endpoint", server.endpoint(), "--no-cache");
        assertEquals(3, denied.exit());
        assertTrue(denied.err().startsWith("error: ACCESS_DENIED: "), denied.err());
        assertEquals(1, denied.err().strip().split("\n").length, denied.err());
        assertFalse(denied.err().contains("wrong-secret-value"));
    }
}
