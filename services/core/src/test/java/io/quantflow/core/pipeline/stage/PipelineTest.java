package io.quantflow.core.pipeline.stage;

import io.quantflow.core.format.Formats;
import io.quantflow.core.Fixtures;
import io.quantflow.core.contract.Schemas;
import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.pipeline.QualityAssertions;
import io.quantflow.core.pipeline.events.Answers;
import io.quantflow.core.pipeline.events.CloudEvent;
import io.quantflow.core.pipeline.events.ConversionRequest;
import io.quantflow.core.pipeline.events.EventTypes;
import io.quantflow.core.pipeline.events.Json;
import io.quantflow.core.pipeline.events.OutputRequest;
import io.quantflow.core.pipeline.events.Stages;
import io.quantflow.core.pipeline.events.TargetRef;
import io.quantflow.core.pipeline.events.Topics;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.source.ContentHash;
import io.quantflow.core.source.HubSettings;
import io.quantflow.core.source.SourceResolver;
import io.quantflow.core.storage.S3Settings;
import io.quantflow.core.storage.Role;
import io.quantflow.core.storage.S3Storage;
import io.quantflow.core.synth.ModelShape;
import io.quantflow.core.synth.SyntheticCheckpoint;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.testing.HubTestServer;
import io.quantflow.core.testing.S3TestServer;
import io.quantflow.core.util.Digests;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The four stages together over an in-process bus and a real S3 server (S3Proxy on loopback): the
 * artifact of a request equals, file for file, what {@code quantflow convert} writes; a request
 * gets exactly one answer however often its records are delivered; every failure a user can
 * cause is one conversion-failed with its code. A 4-bit output's manifest carries the quality section
 * the converter writes; manifests and answers are valid by the schemas in {@code schemas/}. Hub sources
 * come from a Hub on loopback ({@link HubTestServer}).
 */
class PipelineTest {
    static S3TestServer server;
    static S3Client admin;
    static S3Storage s3;
    static ExecutorService pool;
    static HubTestServer hub;
    static HubTestServer.Repo hubTiny;

    @TempDir
    Path tmp;

    LocalBus bus;
    PublishStage publish;
    String work;
    String models;

    @BeforeAll
    static void start() throws Exception {
        server = S3TestServer.start();
        admin = server.client();
        s3 = S3Storage.open(S3Settings.fromEnvironment(server.environment(), 2));
        pool = Executors.newFixedThreadPool(2);
        hub = new HubTestServer();
        hubTiny = hub.addRepo("org/tiny", Fixtures.path("tiny-llama/base-bf16"));
        hub.addRepo("org/gated", Fixtures.path("tiny-llama/base-bf16")).gated("hf_secret_token_1234");
    }

    @AfterAll
    static void stop() throws Exception {
        if (pool != null) {
            pool.shutdownNow();
        }
        if (hub != null) {
            hub.close();
        }
        if (s3 != null) {
            s3.close();
        }
        if (admin != null) {
            admin.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @BeforeEach
    void stack() {
        work = bucket();
        models = bucket();
        WorkStore store = new WorkStore(s3, work, tmp.resolve("scratch"));
        bus = new LocalBus();
        FetchStage fetch = new FetchStage(store, cache -> new SourceResolver(cache, HubSettings.from(hub.endpoint(), Map.of(), 1),
                () -> s3.settings()), StageMetrics.NONE);
        bus.subscribe(Topics.REQUESTED, fetch::handle);
        bus.subscribe(Topics.MERGE, new ShardStage(Stages.MERGE, store, pool, StageMetrics.NONE)::handle);
        bus.subscribe(Topics.QUANTIZE, new ShardStage(Stages.QUANTIZE, store, pool, StageMetrics.NONE)::handle);
        publish = new PublishStage(store, StageMetrics.NONE);
        bus.subscribe(Topics.PUBLISH, publish::handle);
    }

    static String bucket() {
        String b = "qf-" + UUID.randomUUID().toString().substring(0, 8);
        admin.createBucket(r -> r.bucket(b));
        return b;
    }

    static String upload(Path dir, String bucket, String prefix) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                admin.putObject(r -> r.bucket(bucket).key(prefix + "/" + p.getFileName()), RequestBody.fromFile(p));
            }
        }
        return "s3://" + bucket + "/" + prefix;
    }

    static OutputRequest output(String format) {
        return OutputRequest.builder(format).build();
    }

    String request(String id, String source, String adapter, List<OutputRequest> outputs, String target, String ifExists) {
        ConversionRequest r = new ConversionRequest(id, source, adapter, outputs, new TargetRef(target, ifExists));
        return CloudEvent.of(EventTypes.REQUESTED, "urn:test", UUID.randomUUID().toString(), id, r).toJson();
    }

    Answers.Completed completed(String id) {
        List<CloudEvent> done = bus.on(Topics.COMPLETED, id);
        assertEquals(List.of(), bus.on(Topics.FAILED, id).stream().map(e -> e.data(Answers.Failed.class)).toList());
        assertEquals(1, done.size(), "exactly one completed");
        return done.get(0).data(Answers.Completed.class);
    }

    Answers.Failed failed(String id) {
        assertEquals(0, bus.on(Topics.COMPLETED, id).size());
        List<CloudEvent> f = bus.on(Topics.FAILED, id);
        assertEquals(1, f.size(), "exactly one failed");
        return f.get(0).data(Answers.Failed.class);
    }

    /** Every file of the local conversion, with its sha256, except the manifest. */
    static Map<String, String> files(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                String rel = dir.relativize(p).toString();
                if (!p.getFileName().toString().equals(Manifest.FILE_NAME)) {
                    out.put(rel, Digests.sha256(p));
                }
            }
        }
        return out;
    }

    /** The artifact's files as its manifests list them, checked against the objects at the target. */
    Map<String, String> published(Answers.Completed c, String targetPrefix) {
        Map<String, String> out = new TreeMap<>();
        for (Answers.CompletedOutput o : c.outputs()) {
            String sub = o.uri().equals("s3://" + models + "/" + targetPrefix) ? "" : o.format() + "/";
            for (Manifest.FileEntry f : o.manifest().files()) {
                String key = o.uri().substring(("s3://" + models + "/").length()) + "/" + f.path();
                Path local = tmp.resolve("published-" + UUID.randomUUID());
                String sha = s3.bucket(Role.TARGET, models).download(key, local);
                assertEquals(f.sha256(), sha, "the manifest's sha256 of " + key);
                assertEquals(f.bytes(), s3.bucket(Role.TARGET, models).head(key).size(), key);
                out.put(sub + f.path(), sha);
            }
        }
        return out;
    }

    /**
     * The request's completed event is valid by conversion-completed.schema.json, and each manifest at the
     * target by manifest.schema.json and the same as the event's.
     */
    void assertValidBySchemas(String id) {
        CloudEvent done = bus.on(Topics.COMPLETED, id).get(0);
        Schemas.assertValid("conversion-completed", done.toJson());
        for (Answers.CompletedOutput o : done.data(Answers.Completed.class).outputs()) {
            String key = o.uri().substring(("s3://" + models + "/").length()) + "/" + Manifest.FILE_NAME;
            byte[] manifest = s3.bucket(Role.TARGET, models).readSmall(key);
            assertNotNull(manifest, key);
            Schemas.assertValid("manifest", new String(manifest, StandardCharsets.UTF_8));
            assertEquals(o.manifest(), Json.read(manifest, Manifest.class), key);
        }
    }

    /** Each output's manifest has the converter's quality section and requantization error. */
    static void assertSameQuality(List<Manifest> expected, Answers.Completed c) {
        assertEquals(expected.size(), c.outputs().size());
        for (int i = 0; i < expected.size(); i++) {
            Manifest e = expected.get(i);
            Manifest a = c.outputs().get(i).manifest();
            QualityAssertions.assertSameQuality(e.quality(), a.quality());
            if (e.output().requantizationError() == null) {
                assertNull(a.output().requantizationError(), a.format());
            } else {
                assertNotNull(a.output().requantizationError(), a.format());
                QualityAssertions.close(e.output().requantizationError(), a.output().requantizationError(),
                        a.format() + " requantizationError");
            }
        }
    }

    List<String> keys(String bucket, String prefix) {
        return admin.listObjectsV2(r -> r.bucket(bucket).prefix(prefix)).contents().stream().map(S3Object::key).sorted().toList();
    }

    @Test
    void aBnb4bitRequestPublishesWhatConvertWrites() throws IOException {
        Path base = Fixtures.path("tiny-llama/base-bf16");
        String src = upload(base, bucket(), "tiny/base");
        bus.publish(Topics.REQUESTED, "r1", request("r1", src, null, List.of(output("bnb-4bit")), "s3://" + models + "/tiny/nf4", "fail"));
        bus.drain();
        Answers.Completed c = completed("r1");
        Path local = tmp.resolve("local");
        Converter.Result cli = new Converter().convert(Converter.Request.bnb4bit(base, local, QuantOptions.defaults(), IfExists.FAIL, 2),
                Converter.Listener.NONE);
        assertEquals(files(local), published(c, "tiny/nf4"));
        assertTrue(keys(models, "tiny/nf4/").contains("tiny/nf4/" + Manifest.FILE_NAME));
        Manifest m = c.outputs().get(0).manifest();
        assertEquals(src, m.source().uri());
        assertTrue(m.timings().stages().containsKey(Stages.QUANTIZE));
        assertNotNull(m.quality());
        assertSameQuality(cli.manifests(), c);
        assertNull(m.output().requantizationError());
        assertValidBySchemas("r1");
        // nothing of the request is left in the work bucket but its records
        assertEquals(List.of("work/r1/answer.json", "work/r1/answer.sent", "work/r1/plan.json", "work/r1/request.json"),
                keys(work, "work/r1/"));
    }

    @Test
    void mergedAndAdapterOutputsOfOneRequestMatchConvertWithTheSameFormats() throws IOException {
        Path base = Fixtures.path("tiny-llama/base-bf16");
        Path adapter = Fixtures.path("tiny-llama/lora-adapter");
        String src = upload(base, bucket(), "tiny/base");
        String ad = upload(adapter, bucket(), "tiny/adapter");
        OutputRequest fp4 = OutputRequest.builder("merged-4bit").quantType("fp4").doubleQuant(false).blocksize(128).device("cpu").build();
        bus.publish(Topics.REQUESTED, "r2", request("r2", src, ad,
                List.of(output("merged-16bit"), fp4, output("lora")), "s3://" + models + "/tiny/merged", "fail"));
        bus.drain();
        Answers.Completed c = completed("r2");
        Path local = tmp.resolve("local");
        Converter.Result cli = new Converter().convert(new Converter.Request(base, adapter, local,
                List.of(Formats.MERGED_16BIT, Formats.MERGED_4BIT, Formats.LORA),
                new QuantOptions(QuantType.FP4, false, 128, DType.BF16, List.of()), null, IfExists.FAIL, 2), Converter.Listener.NONE);
        assertEquals(files(local), published(c, "tiny/merged"));
        assertEquals(List.of("merged-16bit", "merged-4bit", "lora"), c.outputs().stream().map(Answers.CompletedOutput::format).toList());
        assertNotNull(c.outputs().get(1).manifest().quality());
        assertSameQuality(cli.manifests(), c);
        assertValidBySchemas("r2");
    }

    @Test
    void aFourBitBaseMergedAndQuantizedAgainRecordsItsRequantizationError() throws IOException {
        Path base = Fixtures.path("tiny-llama/base-bnb-nf4-dq");
        Path adapter = Fixtures.path("tiny-llama/lora-adapter");
        String src = upload(base, bucket(), "tiny/base-nf4");
        String ad = upload(adapter, bucket(), "tiny/adapter");
        bus.publish(Topics.REQUESTED, "r11", request("r11", src, ad, List.of(output("merged-4bit")), "s3://" + models + "/tiny/requant",
                "fail"));
        bus.drain();
        Answers.Completed c = completed("r11");
        Path local = tmp.resolve("local");
        Converter.Result cli = new Converter().convert(new Converter.Request(base, adapter, local, List.of(Formats.MERGED_4BIT),
                QuantOptions.defaults(), null, IfExists.FAIL, 2), Converter.Listener.NONE);
        assertEquals(files(local), published(c, "tiny/requant"));
        Manifest m = c.outputs().get(0).manifest();
        assertNotNull(cli.manifest().output().requantizationError());
        assertEquals(m.quality().relativeRms(), m.output().requantizationError());
        assertSameQuality(cli.manifests(), c);
        assertValidBySchemas("r11");
    }

    @Test
    void anHfSourceIsStagedConvertedAndItsStagedCopyDeleted() throws IOException {
        String uri = "hf://org/tiny@main";
        bus.publish(Topics.REQUESTED, "r12", request("r12", uri, null, List.of(output("bnb-4bit")), "s3://" + models + "/tiny/hub",
                "fail"));
        bus.drain();
        Answers.Completed c = completed("r12");
        Path local = tmp.resolve("local");
        Converter.Result cli = new Converter().convert(Converter.Request.bnb4bit(Fixtures.path("tiny-llama/base-bf16"), local,
                QuantOptions.defaults(), IfExists.FAIL, 2), Converter.Listener.NONE);
        assertEquals(files(local), published(c, "tiny/hub"));
        Manifest m = c.outputs().get(0).manifest();
        assertEquals(uri, m.source().uri());
        assertEquals(hubTiny.commit(), m.source().revision());
        assertEquals(ContentHash.ofCommit(hubTiny.commit()), m.source().contentHash());
        assertSameQuality(cli.manifests(), c);
        assertValidBySchemas("r12");
        // the fetcher staged the model in the work bucket; the publisher deleted the staged copy
        Plan plan = Json.read(s3.bucket(Role.WORK, work).readSmall("work/r12/plan.json"), Plan.class);
        assertEquals(work, plan.config().bucket());
        assertEquals("work/r12/source/config.json", plan.config().key());
        assertEquals(List.of(), keys(work, "work/r12/source/"));
        assertEquals(List.of("work/r12/answer.json", "work/r12/answer.sent", "work/r12/plan.json", "work/r12/request.json"),
                keys(work, "work/r12/"));
    }

    @Test
    void aGatedHubRepoIsAccessDeniedAndAMissingOneSourceNotFound() {
        bus.publish(Topics.REQUESTED, "r13", request("r13", "hf://org/gated", null, List.of(output("bnb-4bit")),
                "s3://" + models + "/gated", "fail"));
        bus.publish(Topics.REQUESTED, "r14", request("r14", "hf://org/missing@main", null, List.of(output("bnb-4bit")),
                "s3://" + models + "/missing", "fail"));
        bus.drain();
        Answers.Failed gated = failed("r13");
        assertEquals("ACCESS_DENIED", gated.code(), gated.message());
        assertEquals(Stages.FETCH, gated.stage());
        Answers.Failed missing = failed("r14");
        assertEquals("SOURCE_NOT_FOUND", missing.code(), missing.message());
        assertEquals(Stages.FETCH, missing.stage());
        Schemas.assertValid("conversion-failed", bus.on(Topics.FAILED, "r13").get(0).toJson());
        assertEquals(List.of(), keys(models, ""));
        assertEquals(List.of(), keys(work, "work/r13/source/"));
        assertEquals(List.of(), keys(work, "work/r14/source/"));
    }

    @Test
    void aShardedModelIsPlannedShardByShardAndItsIndexMatches() throws IOException {
        Path base = tmp.resolve("sharded");
        SyntheticCheckpoint.write(ModelShape.named("tiny-llama"), DType.BF16, 7, base, 600_000, IfExists.FAIL, n -> {
        });
        String src = upload(base, bucket(), "synth");
        bus.publish(Topics.REQUESTED, "r3", request("r3", src, null, List.of(output("bnb-4bit")), "s3://" + models + "/synth-nf4", "fail"));
        bus.drain();
        Answers.Completed c = completed("r3");
        Path local = tmp.resolve("local");
        new Converter().convert(Converter.Request.bnb4bit(base, local, QuantOptions.defaults(), IfExists.FAIL, 2), Converter.Listener.NONE);
        Map<String, String> expected = files(local);
        assertTrue(expected.keySet().stream().filter(f -> f.endsWith(".safetensors")).count() > 2, "several shards: " + expected.keySet());
        assertTrue(expected.containsKey("model.safetensors.index.json"));
        assertEquals(expected, published(c, "synth-nf4"));
    }

    @Test
    void everyRecordDeliveredTwiceStillGivesOneArtifactAndOneAnswer() throws IOException {
        String src = upload(Fixtures.path("tiny-llama/base-bf16"), bucket(), "tiny/base");
        bus.deliveries = 2;
        String event = request("r4", src, null, List.of(output("bnb-4bit")), "s3://" + models + "/tiny/twice", "fail");
        bus.publish(Topics.REQUESTED, "r4", event);
        bus.drain();
        Answers.Completed c = completed("r4");
        // and the same request again, later
        bus.publish(Topics.REQUESTED, "r4", event);
        bus.drain();
        assertEquals(1, bus.on(Topics.COMPLETED, "r4").size());
        assertEquals(0, bus.on(Topics.FAILED, "r4").size());
        assertEquals(c.outputs().get(0).manifest().files().size() + 1, keys(models, "tiny/twice/").size());
    }

    /** A process killed (SIGKILL): nothing of the stage runs after it, and its record comes again. */
    static final class Crash extends Error {
        Crash() {
            super("killed (test)");
        }
    }

    /**
     * The publisher dies between copying two shards to the target (files there, no manifest), and a
     * quantizer and the publisher were each killed in the middle of an upload (multipart uploads left
     * open): when the last item comes again, the publisher publishes over its own files (not
     * TARGET_EXISTS) and the request's open uploads are aborted.
     */
    @Test
    void aPublisherKilledWhileCopyingToTheTargetPublishesOverItsOwnFilesWhenItsItemComesAgain() throws IOException {
        Path base = tmp.resolve("sharded");
        SyntheticCheckpoint.write(ModelShape.named("tiny-llama"), DType.BF16, 7, base, 600_000, IfExists.FAIL, n -> {
        });
        String src = upload(base, bucket(), "synth");
        int[] copies = {0};
        publish.afterEachCopy = () -> {
            if (++copies[0] == 2) {
                throw new Crash();
            }
        };
        bus.publish(Topics.REQUESTED, "r15", request("r15", src, null, List.of(output("bnb-4bit")), "s3://" + models + "/crashed", "fail"));
        assertThrows(Crash.class, bus::drain);
        assertEquals(2, keys(models, "crashed/").size(), "two shards copied, no manifest: " + keys(models, "crashed/"));
        admin.createMultipartUpload(r -> r.bucket(models).key("crashed/model.safetensors.index.json"));
        admin.createMultipartUpload(r -> r.bucket(work).key("work/r15/0-bnb-4bit/quantize/a-shard.safetensors"));
        publish.afterEachCopy = () -> {
        };
        bus.drain();
        Answers.Completed c = completed("r15");
        Path local = tmp.resolve("local");
        new Converter().convert(Converter.Request.bnb4bit(base, local, QuantOptions.defaults(), IfExists.FAIL, 2), Converter.Listener.NONE);
        assertEquals(files(local), published(c, "crashed"));
        assertEquals(List.of(), s3.bucket(Role.TARGET, models).openUploads(""));
        assertEquals(List.of(), s3.bucket(Role.WORK, work).openUploads(""));
        assertEquals(List.of("work/r15/answer.json", "work/r15/answer.sent", "work/r15/plan.json", "work/r15/request.json"),
                keys(work, "work/r15/"));
    }

    @Test
    void aBrokerThatDoesNotTakeTheAnswerOrAWorkItemGetsTheRecordAgainAndStillOneAnswer() throws IOException {
        String src = upload(Fixtures.path("tiny-llama/base-bf16"), bucket(), "tiny/base");
        bus.failingTopic = Topics.PUBLISH;
        bus.failures = 2;
        bus.publish(Topics.REQUESTED, "r11", request("r11", src, null, List.of(output("bnb-4bit")), "s3://" + models + "/flaky", "fail"));
        bus.drain();
        completed("r11");
        bus.failingTopic = Topics.COMPLETED;
        bus.failures = 2;
        bus.publish(Topics.REQUESTED, "r12", request("r12", src, null, List.of(output("bnb-4bit")), "s3://" + models + "/flaky2", "fail"));
        bus.drain();
        completed("r12");
        assertEquals(0, bus.failures);
    }

    @Test
    void aPublisherThatCrashesBetweenManifestsPublishesAgainOnRedeliveryWithOneAnswer() throws IOException {
        Path base = Fixtures.path("tiny-llama/base-bf16");
        Path adapter = Fixtures.path("tiny-llama/lora-adapter");
        String src = upload(base, bucket(), "tiny/base");
        String ad = upload(adapter, bucket(), "tiny/adapter");
        int[] crashes = {1};
        bus.subscribe(Topics.PUBLISH, new PublishStage(new WorkStore(s3, work, tmp.resolve("scratch2")), StageMetrics.NONE, output -> {
            if (output == 1 && crashes[0]-- > 0) {
                throw new LocalBus.Crash("after the first output's manifest");
            }
        })::handle);
        bus.publish(Topics.REQUESTED, "r13", request("r13", src, ad, List.of(output("merged-16bit"), output("merged-4bit")),
                "s3://" + models + "/crashed", "fail"));
        bus.drain();
        Answers.Completed c = completed("r13");
        assertTrue(crashes[0] < 0, "the publisher crashed once, then published");
        Path local = tmp.resolve("local");
        new Converter().convert(new Converter.Request(base, adapter, local, List.of(Formats.MERGED_16BIT, Formats.MERGED_4BIT),
                QuantOptions.defaults(), null, IfExists.FAIL, 2), Converter.Listener.NONE);
        assertEquals(files(local), published(c, "crashed"));
        assertEquals(List.of("work/r13/answer.json", "work/r13/answer.sent", "work/r13/plan.json", "work/r13/request.json"),
                keys(work, "work/r13/"));
    }

    @Test
    void aReusedRequestIdWithAnotherBodyIsNotConvertedAgain() throws IOException {
        String src = upload(Fixtures.path("tiny-llama/base-bf16"), bucket(), "tiny/base");
        bus.publish(Topics.REQUESTED, "r5", request("r5", src, null, List.of(output("bnb-4bit")), "s3://" + models + "/a", "fail"));
        bus.drain();
        completed("r5");
        bus.publish(Topics.REQUESTED, "r5", request("r5", src, null, List.of(output("bnb-4bit")), "s3://" + models + "/b", "fail"));
        bus.drain();
        assertEquals(1, bus.on(Topics.COMPLETED, "r5").size());
        assertEquals(List.of(), keys(models, "b/"));
    }

    @Test
    void aMissingSourceIsOneSourceNotFound() {
        bus.publish(Topics.REQUESTED, "r6", request("r6", "s3://" + work + "/nothing/here", null, List.of(output("bnb-4bit")),
                "s3://" + models + "/x", "fail"));
        bus.drain();
        Answers.Failed f = failed("r6");
        assertEquals("SOURCE_NOT_FOUND", f.code());
        assertEquals(Stages.FETCH, f.stage());
        assertFalse(f.message().contains("\n"));
        assertEquals(List.of(), keys(models, ""));
    }

    @Test
    void anOccupiedTargetIsTargetExistsAndOverwriteReplacesIt() throws IOException {
        String src = upload(Fixtures.path("tiny-llama/base-bf16"), bucket(), "tiny/base");
        admin.putObject(r -> r.bucket(models).key("taken/stale.bin"), RequestBody.fromString("old"));
        bus.publish(Topics.REQUESTED, "r7", request("r7", src, null, List.of(output("bnb-4bit")), "s3://" + models + "/taken", "fail"));
        bus.drain();
        assertEquals("TARGET_EXISTS", failed("r7").code());
        assertEquals(List.of("taken/stale.bin"), keys(models, "taken/"));

        bus.publish(Topics.REQUESTED, "r8", request("r8", src, null, List.of(output("bnb-4bit")), "s3://" + models + "/taken", "overwrite"));
        bus.drain();
        Answers.Completed c = completed("r8");
        assertFalse(keys(models, "taken/").contains("taken/stale.bin"));
        assertEquals(c.outputs().get(0).manifest().files().size() + 1, keys(models, "taken/").size());
    }

    @Test
    void badRequestsAreInvalidRequestAndNonEventsGoToTheDeadLetterTopic() throws IOException {
        String src = upload(Fixtures.path("tiny-llama/base-bf16"), bucket(), "tiny/base");
        bus.publish(Topics.REQUESTED, "r9", request("r9", src, null, List.of(output("merged-16bit")), "s3://" + models + "/m", "fail"));
        bus.publish(Topics.REQUESTED, "junk", "{not json");
        bus.publish(Topics.REQUESTED, "junk", "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"x\",\"type\":\"com.example.other\",\"data\":{}}");
        bus.drain();
        Answers.Failed f = failed("r9");
        assertEquals("INVALID_REQUEST", f.code());
        assertTrue(f.message().contains("adapter"), f.message());
        assertEquals(2, bus.deadLetters.size());
        assertEquals(Topics.deadLetter(Topics.REQUESTED), bus.deadLetters.get(0).topic());
    }

    @Test
    void anAdapterThatDoesNotFitTheBaseIsInvalidRequestNamingTheModule() throws IOException {
        Path base = tmp.resolve("other");
        SyntheticCheckpoint.write(new ModelShape("other", 128, 256, 1, 2, 1, 100, false), DType.BF16, 1, base,
                SyntheticCheckpoint.DEFAULT_MAX_SHARD_BYTES, IfExists.FAIL, n -> {
                });
        String src = upload(base, bucket(), "other");
        String ad = upload(Fixtures.path("tiny-llama/lora-adapter"), bucket(), "adapter");
        bus.publish(Topics.REQUESTED, "r10", request("r10", src, ad, List.of(output("merged-16bit")), "s3://" + models + "/o", "fail"));
        bus.drain();
        Answers.Failed f = failed("r10");
        assertEquals("INVALID_REQUEST", f.code());
        assertTrue(f.message().contains("proj"), f.message());
        assertNull(f.shard());
    }
}
