package io.quantflow.core.pipeline.stage;

import io.quantflow.core.contract.Schemas;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.pipeline.QualityAssertions;
import io.quantflow.core.pipeline.events.Answers;
import io.quantflow.core.pipeline.events.CloudEvent;
import io.quantflow.core.pipeline.events.ConversionRequest;
import io.quantflow.core.pipeline.events.EventTypes;
import io.quantflow.core.pipeline.events.Json;
import io.quantflow.core.pipeline.events.OutputRequest;
import io.quantflow.core.pipeline.events.Stage;
import io.quantflow.core.pipeline.events.TargetRef;
import io.quantflow.core.pipeline.events.Topics;
import io.quantflow.core.source.HubSettings;
import io.quantflow.core.source.SourceResolver;
import io.quantflow.core.storage.Role;
import io.quantflow.core.util.Digests;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * The four stages of one test over an in-process bus ({@link LocalBus}) and the shared servers
 * ({@link PipelineServers}): a work bucket and a models bucket of its own, and what the tests ask
 * of a request — its one answer, the artifact as its manifests list it, and its validity by the
 * schemas in {@code schemas/}.
 */
final class PipelineStack {
    final PipelineServers servers;
    final Path tmp;
    final String work;
    final String models;
    final LocalBus bus = new LocalBus();

    PipelineStack(PipelineServers servers, Path tmp) {
        this(servers, tmp, null);
    }

    /** @param hfToken the HF_TOKEN of the fetcher and the publisher (hf:// sources and targets), or null */
    PipelineStack(PipelineServers servers, Path tmp, String hfToken) {
        this.servers = servers;
        this.tmp = tmp;
        this.work = servers.bucket();
        this.models = servers.bucket();
        WorkStore store = new WorkStore(servers.s3, work, tmp.resolve("scratch"));
        Map<String, String> env = hfToken == null ? Map.of() : Map.of("HF_TOKEN", hfToken);
        HubSettings hub = hfToken == null ? HubSettings.from(servers.hub.endpoint(), env, 1) : HubSettings.from(servers.hub.endpoint(), env, 1)
                .withBackoff(new io.quantflow.core.transfer.Backoff(3, java.time.Duration.ofMillis(1), java.time.Duration.ofMillis(5)));
        FetchStage fetch = new FetchStage(store, cache -> new SourceResolver(cache, hub, () -> servers.s3.settings()), StageMetrics.NONE);
        bus.subscribe(Topics.REQUESTED, fetch::handle);
        bus.subscribe(Stage.MERGE.topic(), new ShardStage(Stage.MERGE, store, servers.pool, StageMetrics.NONE)::handle);
        bus.subscribe(Stage.QUANTIZE.topic(), new ShardStage(Stage.QUANTIZE, store, servers.pool, StageMetrics.NONE)::handle);
        bus.subscribe(Stage.PUBLISH.topic(), new PublishStage(store, StageMetrics.NONE, PublishSteps.NONE, () -> hub)::handle);
    }

    /** The publisher replaced by one that reports its steps to {@code steps} (and has scratch space of its own). */
    void publishWith(PublishSteps steps) {
        bus.subscribe(Stage.PUBLISH.topic(), new PublishStage(new WorkStore(servers.s3, work, tmp.resolve("scratch-publish")),
                StageMetrics.NONE, steps)::handle);
    }

    /** A new, empty bucket. */
    String bucket() {
        return servers.bucket();
    }

    /** The files of {@code dir} uploaded under {@code bucket/prefix}; its s3:// location. */
    String upload(Path dir, String bucket, String prefix) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                servers.admin.putObject(r -> r.bucket(bucket).key(prefix + "/" + p.getFileName()), RequestBody.fromFile(p));
            }
        }
        return "s3://" + bucket + "/" + prefix;
    }

    /** An output of a request with every option left to its default. */
    static OutputRequest output(String format) {
        return OutputRequest.builder(format).build();
    }

    /** A conversion-requested event, as a record value. */
    static String request(String id, String source, String adapter, List<OutputRequest> outputs, String target, String ifExists) {
        ConversionRequest r = new ConversionRequest(id, source, adapter, outputs, new TargetRef(target, ifExists));
        return CloudEvent.of(EventTypes.REQUESTED, "urn:test", UUID.randomUUID().toString(), id, r).toJson();
    }

    /** The request's one answer, which must be completed (and no failed). */
    Answers.Completed completed(String id) {
        List<CloudEvent> done = bus.on(Topics.COMPLETED, id);
        assertEquals(List.of(), bus.on(Topics.FAILED, id).stream().map(e -> e.data(Answers.Failed.class)).toList());
        assertEquals(1, done.size(), "exactly one completed");
        return done.get(0).data(Answers.Completed.class);
    }

    /** The request's one answer, which must be failed (and no completed). */
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
                String sha = servers.s3.bucket(Role.TARGET, models).download(key, local);
                assertEquals(f.sha256(), sha, "the manifest's sha256 of " + key);
                assertEquals(f.bytes(), servers.s3.bucket(Role.TARGET, models).head(key).size(), key);
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
            byte[] manifest = servers.s3.bucket(Role.TARGET, models).readSmall(key);
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

    /** The keys under {@code prefix}, sorted. */
    List<String> keys(String bucket, String prefix) {
        return servers.admin.listObjectsV2(r -> r.bucket(bucket).prefix(prefix)).contents().stream().map(S3Object::key).sorted().toList();
    }
}
