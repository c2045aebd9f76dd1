package io.quantflow.core.pipeline.stage;

import io.quantflow.core.Fixtures;
import io.quantflow.core.contract.Schemas;
import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.format.Formats;
import io.quantflow.core.pipeline.events.Answers;
import io.quantflow.core.pipeline.events.Json;
import io.quantflow.core.pipeline.events.OutputRequest;
import io.quantflow.core.pipeline.events.Stage;
import io.quantflow.core.pipeline.events.Topics;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.source.ContentHash;
import io.quantflow.core.storage.Role;
import io.quantflow.core.synth.ModelShape;
import io.quantflow.core.synth.SyntheticCheckpoint;
import io.quantflow.core.target.IfExists;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static io.quantflow.core.pipeline.stage.PipelineStack.assertSameQuality;
import static io.quantflow.core.pipeline.stage.PipelineStack.files;
import static io.quantflow.core.pipeline.stage.PipelineStack.output;
import static io.quantflow.core.pipeline.stage.PipelineStack.request;
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
 * come from a Hub on loopback. The servers are {@link PipelineServers}; the stages of each test, and
 * what the test asks of a request, {@link PipelineStack}.
 */
class PipelineTest {
    static PipelineServers servers;

    @TempDir
    Path tmp;

    PipelineStack pipeline;

    @BeforeAll
    static void start() throws Exception {
        servers = PipelineServers.start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (servers != null) {
            servers.close();
        }
    }

    @BeforeEach
    void stack() {
        pipeline = new PipelineStack(servers, tmp);
    }

    @Test
    void aBnb4bitRequestPublishesWhatConvertWrites() throws IOException {
        Path base = Fixtures.path("tiny-llama/base-bf16");
        String src = pipeline.upload(base, pipeline.bucket(), "tiny/base");
        pipeline.bus.publish(Topics.REQUESTED, "r1", request("r1", src, null, List.of(output("bnb-4bit")), "s3://" + pipeline.models + "/tiny/nf4", "fail"));
        pipeline.bus.drain();
        Answers.Completed c = pipeline.completed("r1");
        Path local = tmp.resolve("local");
        Converter.Result cli = new Converter().convert(Converter.Request.bnb4bit(base, local, QuantOptions.defaults(), IfExists.FAIL, 2),
                Converter.Listener.NONE);
        assertEquals(files(local), pipeline.published(c, "tiny/nf4"));
        assertTrue(pipeline.keys(pipeline.models, "tiny/nf4/").contains("tiny/nf4/" + Manifest.FILE_NAME));
        Manifest m = c.outputs().get(0).manifest();
        assertEquals(src, m.source().uri());
        assertTrue(m.timings().stages().containsKey(Stage.QUANTIZE.wire()));
        assertNotNull(m.quality());
        assertSameQuality(cli.manifests(), c);
        assertNull(m.output().requantizationError());
        pipeline.assertValidBySchemas("r1");
        // nothing of the request is left in the work bucket but its records
        assertEquals(List.of("work/r1/answer.json", "work/r1/answer.sent", "work/r1/plan.json", "work/r1/request.json"),
                pipeline.keys(pipeline.work, "work/r1/"));
    }

    @Test
    void mergedAndAdapterOutputsOfOneRequestMatchConvertWithTheSameFormats() throws IOException {
        Path base = Fixtures.path("tiny-llama/base-bf16");
        Path adapter = Fixtures.path("tiny-llama/lora-adapter");
        String src = pipeline.upload(base, pipeline.bucket(), "tiny/base");
        String ad = pipeline.upload(adapter, pipeline.bucket(), "tiny/adapter");
        OutputRequest fp4 = OutputRequest.builder("merged-4bit").quantType("fp4").doubleQuant(false).blocksize(128).device("cpu").build();
        pipeline.bus.publish(Topics.REQUESTED, "r2", request("r2", src, ad,
                List.of(output("merged-16bit"), fp4, output("lora")), "s3://" + pipeline.models + "/tiny/merged", "fail"));
        pipeline.bus.drain();
        Answers.Completed c = pipeline.completed("r2");
        Path local = tmp.resolve("local");
        Converter.Result cli = new Converter().convert(new Converter.Request(base, adapter, local,
                List.of(Formats.MERGED_16BIT, Formats.MERGED_4BIT, Formats.LORA),
                new QuantOptions(QuantType.FP4, false, 128, DType.BF16, List.of()), null, IfExists.FAIL, 2), Converter.Listener.NONE);
        assertEquals(files(local), pipeline.published(c, "tiny/merged"));
        assertEquals(List.of("merged-16bit", "merged-4bit", "lora"), c.outputs().stream().map(Answers.CompletedOutput::format).toList());
        assertNotNull(c.outputs().get(1).manifest().quality());
        assertSameQuality(cli.manifests(), c);
        pipeline.assertValidBySchemas("r2");
    }

    @Test
    void aFourBitBaseMergedAndQuantizedAgainRecordsItsRequantizationError() throws IOException {
        Path base = Fixtures.path("tiny-llama/base-bnb-nf4-dq");
        Path adapter = Fixtures.path("tiny-llama/lora-adapter");
        String src = pipeline.upload(base, pipeline.bucket(), "tiny/base-nf4");
        String ad = pipeline.upload(adapter, pipeline.bucket(), "tiny/adapter");
        pipeline.bus.publish(Topics.REQUESTED, "r11", request("r11", src, ad, List.of(output("merged-4bit")), "s3://" + pipeline.models + "/tiny/requant",
                "fail"));
        pipeline.bus.drain();
        Answers.Completed c = pipeline.completed("r11");
        Path local = tmp.resolve("local");
        Converter.Result cli = new Converter().convert(new Converter.Request(base, adapter, local, List.of(Formats.MERGED_4BIT),
                QuantOptions.defaults(), null, IfExists.FAIL, 2), Converter.Listener.NONE);
        assertEquals(files(local), pipeline.published(c, "tiny/requant"));
        Manifest m = c.outputs().get(0).manifest();
        assertNotNull(cli.manifest().output().requantizationError());
        assertEquals(m.quality().relativeRms(), m.output().requantizationError());
        assertSameQuality(cli.manifests(), c);
        pipeline.assertValidBySchemas("r11");
    }

    @Test
    void anHfSourceIsStagedConvertedAndItsStagedCopyDeleted() throws IOException {
        String uri = "hf://org/tiny@main";
        pipeline.bus.publish(Topics.REQUESTED, "r12", request("r12", uri, null, List.of(output("bnb-4bit")), "s3://" + pipeline.models + "/tiny/hub",
                "fail"));
        pipeline.bus.drain();
        Answers.Completed c = pipeline.completed("r12");
        Path local = tmp.resolve("local");
        Converter.Result cli = new Converter().convert(Converter.Request.bnb4bit(Fixtures.path("tiny-llama/base-bf16"), local,
                QuantOptions.defaults(), IfExists.FAIL, 2), Converter.Listener.NONE);
        assertEquals(files(local), pipeline.published(c, "tiny/hub"));
        Manifest m = c.outputs().get(0).manifest();
        assertEquals(uri, m.source().uri());
        assertEquals(servers.hubTiny.commit(), m.source().revision());
        assertEquals(ContentHash.ofCommit(servers.hubTiny.commit()), m.source().contentHash());
        assertSameQuality(cli.manifests(), c);
        pipeline.assertValidBySchemas("r12");
        // the fetcher staged the model in the work bucket; the publisher deleted the staged copy
        Plan plan = Json.read(servers.s3.bucket(Role.WORK, pipeline.work).readSmall("work/r12/plan.json"), Plan.class);
        assertEquals(pipeline.work, plan.config().bucket());
        assertEquals("work/r12/source/config.json", plan.config().key());
        assertEquals(List.of(), pipeline.keys(pipeline.work, "work/r12/source/"));
        assertEquals(List.of("work/r12/answer.json", "work/r12/answer.sent", "work/r12/plan.json", "work/r12/request.json"),
                pipeline.keys(pipeline.work, "work/r12/"));
    }

    @Test
    void aGatedHubRepoIsAccessDeniedAndAMissingOneSourceNotFound() {
        pipeline.bus.publish(Topics.REQUESTED, "r13", request("r13", "hf://org/gated", null, List.of(output("bnb-4bit")),
                "s3://" + pipeline.models + "/gated", "fail"));
        pipeline.bus.publish(Topics.REQUESTED, "r14", request("r14", "hf://org/missing@main", null, List.of(output("bnb-4bit")),
                "s3://" + pipeline.models + "/missing", "fail"));
        pipeline.bus.drain();
        Answers.Failed gated = pipeline.failed("r13");
        assertEquals("ACCESS_DENIED", gated.code(), gated.message());
        assertEquals(Stage.FETCH, gated.stage());
        Answers.Failed missing = pipeline.failed("r14");
        assertEquals("SOURCE_NOT_FOUND", missing.code(), missing.message());
        assertEquals(Stage.FETCH, missing.stage());
        Schemas.assertValid("conversion-failed", pipeline.bus.on(Topics.FAILED, "r13").get(0).toJson());
        assertEquals(List.of(), pipeline.keys(pipeline.models, ""));
        assertEquals(List.of(), pipeline.keys(pipeline.work, "work/r13/source/"));
        assertEquals(List.of(), pipeline.keys(pipeline.work, "work/r14/source/"));
    }

    @Test
    void aShardedModelIsPlannedShardByShardAndItsIndexMatches() throws IOException {
        Path base = tmp.resolve("sharded");
        SyntheticCheckpoint.write(ModelShape.named("tiny-llama"), DType.BF16, 7, base, 600_000, IfExists.FAIL, n -> {
        });
        String src = pipeline.upload(base, pipeline.bucket(), "synth");
        pipeline.bus.publish(Topics.REQUESTED, "r3", request("r3", src, null, List.of(output("bnb-4bit")), "s3://" + pipeline.models + "/synth-nf4", "fail"));
        pipeline.bus.drain();
        Answers.Completed c = pipeline.completed("r3");
        Path local = tmp.resolve("local");
        new Converter().convert(Converter.Request.bnb4bit(base, local, QuantOptions.defaults(), IfExists.FAIL, 2), Converter.Listener.NONE);
        Map<String, String> expected = files(local);
        assertTrue(expected.keySet().stream().filter(f -> f.endsWith(".safetensors")).count() > 2, "several shards: " + expected.keySet());
        assertTrue(expected.containsKey("model.safetensors.index.json"));
        assertEquals(expected, pipeline.published(c, "synth-nf4"));
    }

    @Test
    void everyRecordDeliveredTwiceStillGivesOneArtifactAndOneAnswer() throws IOException {
        String src = pipeline.upload(Fixtures.path("tiny-llama/base-bf16"), pipeline.bucket(), "tiny/base");
        pipeline.bus.deliveries = 2;
        String event = request("r4", src, null, List.of(output("bnb-4bit")), "s3://" + pipeline.models + "/tiny/twice", "fail");
        pipeline.bus.publish(Topics.REQUESTED, "r4", event);
        pipeline.bus.drain();
        Answers.Completed c = pipeline.completed("r4");
        // and the same request again, later
        pipeline.bus.publish(Topics.REQUESTED, "r4", event);
        pipeline.bus.drain();
        assertEquals(1, pipeline.bus.on(Topics.COMPLETED, "r4").size());
        assertEquals(0, pipeline.bus.on(Topics.FAILED, "r4").size());
        assertEquals(c.outputs().get(0).manifest().files().size() + 1, pipeline.keys(pipeline.models, "tiny/twice/").size());
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
        String src = pipeline.upload(base, pipeline.bucket(), "synth");
        int[] copies = {0};
        boolean[] armed = {true};
        pipeline.publishWith(new PublishSteps() {
            @Override
            public void shardCopied(int output, String key) {
                if (armed[0] && ++copies[0] == 2) {
                    throw new Crash();
                }
            }
        });
        pipeline.bus.publish(Topics.REQUESTED, "r15", request("r15", src, null, List.of(output("bnb-4bit")), "s3://" + pipeline.models + "/crashed", "fail"));
        assertThrows(Crash.class, pipeline.bus::drain);
        assertEquals(2, pipeline.keys(pipeline.models, "crashed/").size(), "two shards copied, no manifest: " + pipeline.keys(pipeline.models, "crashed/"));
        servers.admin.createMultipartUpload(r -> r.bucket(pipeline.models).key("crashed/model.safetensors.index.json"));
        servers.admin.createMultipartUpload(r -> r.bucket(pipeline.work).key("work/r15/0-bnb-4bit/quantize/a-shard.safetensors"));
        armed[0] = false;
        pipeline.bus.drain();
        Answers.Completed c = pipeline.completed("r15");
        Path local = tmp.resolve("local");
        new Converter().convert(Converter.Request.bnb4bit(base, local, QuantOptions.defaults(), IfExists.FAIL, 2), Converter.Listener.NONE);
        assertEquals(files(local), pipeline.published(c, "crashed"));
        assertEquals(List.of(), servers.s3.bucket(Role.TARGET, pipeline.models).openUploads(""));
        assertEquals(List.of(), servers.s3.bucket(Role.WORK, pipeline.work).openUploads(""));
        assertEquals(List.of("work/r15/answer.json", "work/r15/answer.sent", "work/r15/plan.json", "work/r15/request.json"),
                pipeline.keys(pipeline.work, "work/r15/"));
    }

    @Test
    void aBrokerThatDoesNotTakeTheAnswerOrAWorkItemGetsTheRecordAgainAndStillOneAnswer() throws IOException {
        String src = pipeline.upload(Fixtures.path("tiny-llama/base-bf16"), pipeline.bucket(), "tiny/base");
        pipeline.bus.failingTopic = Stage.PUBLISH.topic();
        pipeline.bus.failures = 2;
        pipeline.bus.publish(Topics.REQUESTED, "r11", request("r11", src, null, List.of(output("bnb-4bit")), "s3://" + pipeline.models + "/flaky", "fail"));
        pipeline.bus.drain();
        pipeline.completed("r11");
        pipeline.bus.failingTopic = Topics.COMPLETED;
        pipeline.bus.failures = 2;
        pipeline.bus.publish(Topics.REQUESTED, "r12", request("r12", src, null, List.of(output("bnb-4bit")), "s3://" + pipeline.models + "/flaky2", "fail"));
        pipeline.bus.drain();
        pipeline.completed("r12");
        assertEquals(0, pipeline.bus.failures);
    }

    @Test
    void aPublisherThatCrashesBetweenManifestsPublishesAgainOnRedeliveryWithOneAnswer() throws IOException {
        Path base = Fixtures.path("tiny-llama/base-bf16");
        Path adapter = Fixtures.path("tiny-llama/lora-adapter");
        String src = pipeline.upload(base, pipeline.bucket(), "tiny/base");
        String ad = pipeline.upload(adapter, pipeline.bucket(), "tiny/adapter");
        int[] crashes = {1};
        pipeline.publishWith(new PublishSteps() {
            @Override
            public void beforeManifest(int output) {
                if (output == 1 && crashes[0]-- > 0) {
                    throw new LocalBus.Crash("after the first output's manifest");
                }
            }
        });
        pipeline.bus.publish(Topics.REQUESTED, "r13", request("r13", src, ad, List.of(output("merged-16bit"), output("merged-4bit")),
                "s3://" + pipeline.models + "/crashed", "fail"));
        pipeline.bus.drain();
        Answers.Completed c = pipeline.completed("r13");
        assertTrue(crashes[0] < 0, "the publisher crashed once, then published");
        Path local = tmp.resolve("local");
        new Converter().convert(new Converter.Request(base, adapter, local, List.of(Formats.MERGED_16BIT, Formats.MERGED_4BIT),
                QuantOptions.defaults(), null, IfExists.FAIL, 2), Converter.Listener.NONE);
        assertEquals(files(local), pipeline.published(c, "crashed"));
        assertEquals(List.of("work/r13/answer.json", "work/r13/answer.sent", "work/r13/plan.json", "work/r13/request.json"),
                pipeline.keys(pipeline.work, "work/r13/"));
    }

    @Test
    void aReusedRequestIdWithAnotherBodyIsNotConvertedAgain() throws IOException {
        String src = pipeline.upload(Fixtures.path("tiny-llama/base-bf16"), pipeline.bucket(), "tiny/base");
        pipeline.bus.publish(Topics.REQUESTED, "r5", request("r5", src, null, List.of(output("bnb-4bit")), "s3://" + pipeline.models + "/a", "fail"));
        pipeline.bus.drain();
        pipeline.completed("r5");
        pipeline.bus.publish(Topics.REQUESTED, "r5", request("r5", src, null, List.of(output("bnb-4bit")), "s3://" + pipeline.models + "/b", "fail"));
        pipeline.bus.drain();
        assertEquals(1, pipeline.bus.on(Topics.COMPLETED, "r5").size());
        assertEquals(List.of(), pipeline.keys(pipeline.models, "b/"));
    }

    @Test
    void aMissingSourceIsOneSourceNotFound() {
        pipeline.bus.publish(Topics.REQUESTED, "r6", request("r6", "s3://" + pipeline.work + "/nothing/here", null, List.of(output("bnb-4bit")),
                "s3://" + pipeline.models + "/x", "fail"));
        pipeline.bus.drain();
        Answers.Failed f = pipeline.failed("r6");
        assertEquals("SOURCE_NOT_FOUND", f.code());
        assertEquals(Stage.FETCH, f.stage());
        assertFalse(f.message().contains("\n"));
        assertEquals(List.of(), pipeline.keys(pipeline.models, ""));
    }

    @Test
    void anOccupiedTargetIsTargetExistsAndOverwriteReplacesIt() throws IOException {
        String src = pipeline.upload(Fixtures.path("tiny-llama/base-bf16"), pipeline.bucket(), "tiny/base");
        servers.admin.putObject(r -> r.bucket(pipeline.models).key("taken/stale.bin"), RequestBody.fromString("old"));
        pipeline.bus.publish(Topics.REQUESTED, "r7", request("r7", src, null, List.of(output("bnb-4bit")), "s3://" + pipeline.models + "/taken", "fail"));
        pipeline.bus.drain();
        assertEquals("TARGET_EXISTS", pipeline.failed("r7").code());
        assertEquals(List.of("taken/stale.bin"), pipeline.keys(pipeline.models, "taken/"));

        pipeline.bus.publish(Topics.REQUESTED, "r8", request("r8", src, null, List.of(output("bnb-4bit")), "s3://" + pipeline.models + "/taken", "overwrite"));
        pipeline.bus.drain();
        Answers.Completed c = pipeline.completed("r8");
        assertFalse(pipeline.keys(pipeline.models, "taken/").contains("taken/stale.bin"));
        assertEquals(c.outputs().get(0).manifest().files().size() + 1, pipeline.keys(pipeline.models, "taken/").size());
    }

    @Test
    void badRequestsAreInvalidRequestAndNonEventsGoToTheDeadLetterTopic() throws IOException {
        String src = pipeline.upload(Fixtures.path("tiny-llama/base-bf16"), pipeline.bucket(), "tiny/base");
        pipeline.bus.publish(Topics.REQUESTED, "r9", request("r9", src, null, List.of(output("merged-16bit")), "s3://" + pipeline.models + "/m", "fail"));
        pipeline.bus.publish(Topics.REQUESTED, "junk", "{not json");
        pipeline.bus.publish(Topics.REQUESTED, "junk", "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"x\",\"type\":\"com.example.other\",\"data\":{}}");
        pipeline.bus.drain();
        Answers.Failed f = pipeline.failed("r9");
        assertEquals("INVALID_REQUEST", f.code());
        assertTrue(f.message().contains("adapter"), f.message());
        assertEquals(2, pipeline.bus.deadLetters.size());
        assertEquals(Topics.deadLetter(Topics.REQUESTED), pipeline.bus.deadLetters.get(0).topic());
    }

    @Test
    void anAdapterThatDoesNotFitTheBaseIsInvalidRequestNamingTheModule() throws IOException {
        Path base = tmp.resolve("other");
        SyntheticCheckpoint.write(new ModelShape("other", 128, 256, 1, 2, 1, 100, false), DType.BF16, 1, base,
                SyntheticCheckpoint.DEFAULT_MAX_SHARD_BYTES, IfExists.FAIL, n -> {
                });
        String src = pipeline.upload(base, pipeline.bucket(), "other");
        String ad = pipeline.upload(Fixtures.path("tiny-llama/lora-adapter"), pipeline.bucket(), "adapter");
        pipeline.bus.publish(Topics.REQUESTED, "r10", request("r10", src, ad, List.of(output("merged-16bit")), "s3://" + pipeline.models + "/o", "fail"));
        pipeline.bus.drain();
        Answers.Failed f = pipeline.failed("r10");
        assertEquals("INVALID_REQUEST", f.code());
        assertTrue(f.message().contains("proj"), f.message());
        assertNull(f.shard());
    }
}
