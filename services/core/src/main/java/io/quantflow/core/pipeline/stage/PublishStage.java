package io.quantflow.core.pipeline.stage;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.convert.QualityBuilder;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.AdapterUse;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.lora.LoraAdapter;
import io.quantflow.core.pipeline.ModelFiles;
import io.quantflow.core.pipeline.OutputQuality;
import io.quantflow.core.pipeline.ShardResult;
import io.quantflow.core.pipeline.events.Answers;
import io.quantflow.core.pipeline.events.CloudEvent;
import io.quantflow.core.pipeline.events.EventTypes;
import io.quantflow.core.pipeline.events.Json;
import io.quantflow.core.pipeline.events.ObjectRef;
import io.quantflow.core.pipeline.events.ShardWork;
import io.quantflow.core.pipeline.events.Stage;
import io.quantflow.core.pipeline.events.Topics;
import io.quantflow.core.quality.Quality;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.source.HubSettings;
import io.quantflow.core.target.HubTarget;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.target.S3Target;
import io.quantflow.core.target.UploadListener;
import io.quantflow.core.util.Digests;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * The publisher's work: record each finished shard; when the last one of a request is in, put the
 * artifact together at the target (each shard copied inside the store, index, config, the files
 * that travel with the weights, the adapter for lora) and write each output's manifest last and
 * only if absent, then answer {@code conversion-completed} once. Until the manifest is written the
 * target holds no manifest, which readers take as "not there". A 4-bit output's manifest carries the
 * quality section {@code quantflow convert} writes, made from the shards' results ({@link OutputQuality}).
 */
public final class PublishStage {
    private static final Logger LOG = Logger.getLogger(PublishStage.class.getName());
    static final String SOURCE = Stage.PUBLISH.eventSource();
    private static final ObjectMapper JSON = new ObjectMapper();

    private final WorkStore store;
    private final StageMetrics metrics;
    private final PublishSteps steps;
    private final Supplier<HubSettings> hub;

    /**
     * {@code work/<id>/publishing.json}: the target's keys when the first attempt to publish began,
     * written before anything is written there. An attempt that finds it follows a crashed one: what
     * the target holds beyond these keys is that attempt's (ADR 10: publish again over it).
     */
    record Begun(List<String> targetBefore) {
    }

    public PublishStage(WorkStore store, StageMetrics metrics) {
        this(store, metrics, PublishSteps.NONE);
    }

    /** @param steps told of each shard copied to the target and of each manifest before it is written */
    public PublishStage(WorkStore store, StageMetrics metrics, PublishSteps steps) {
        this(store, metrics, steps, () -> HubSettings.from(null, System.getenv(), 4));
    }

    /** @param hub how to reach the Hub for hf:// targets (endpoint, HF_TOKEN with the write role) */
    public PublishStage(WorkStore store, StageMetrics metrics, PublishSteps steps, Supplier<HubSettings> hub) {
        this.store = store;
        this.metrics = metrics;
        this.steps = steps;
        this.hub = hub;
    }

    /** Where the publisher puts one output's files: a shard from the work bucket, and a file written locally. */
    private interface Sink {
        void shard(Plan.PlannedOutput o, ObjectRef from, String file, long bytes, Path dir) throws IOException;

        void write(String path, Path file);
    }

    public void handle(String value, Bus bus) {
        ShardWork item = WorkItems.parse(value, Stage.PUBLISH);
        String rid = item.requestId();
        WorkStore.Answer claimed = store.answer(rid);
        if (claimed != null) {
            if (!store.answerSent(rid)) {
                store.answer(rid, claimed.topic(), claimed.cloudEvent(), bus);
            }
            if (claimed.topic().equals(Topics.FAILED)) {
                store.deleteIntermediates(rid);
            }
            metrics.skipped(Stage.PUBLISH);
            return;
        }
        try {
            Plan plan = store.read(store.ref(rid, "plan.json"), Plan.class);
            if (plan == null) {
                throw QuantflowException.of(Reason.STORE_OBJECT_MISSING, "the plan of request " + rid + " is missing from the work bucket");
            }
            store.write(store.ref(rid, "done/" + item.output().index() + "/" + item.shard().index() + ".json"), Map.of("file", item.shard().file()));
            int done = store.objects().list(WorkStore.prefix(rid) + "done/").size();
            bus.progress(rid, CloudEvent.of(EventTypes.PROGRESS, SOURCE, "publish/" + item.eventId(), rid,
                    new Answers.Progress(rid, Stage.PUBLISH, item.output().format(),
                            new Answers.ProgressShard(item.shard().index(), item.shard().count(), item.shard().file()), done,
                            plan.totalItems())));
            if (done < plan.totalItems()) {
                return;
            }
            publish(plan, bus);
        } catch (Bus.Unavailable e) {
            throw e;
        } catch (QuantflowException e) {
            Failures.answer(store, bus, SOURCE, rid, e.code(), e.getMessage(), Stage.PUBLISH, item.output().format(), null);
            metrics.failed(Stage.PUBLISH, e.code());
            store.deleteIntermediates(rid);
        } catch (IOException | RuntimeException e) {
            QuantflowException q = Failures.internal("publishing " + rid, e instanceof RuntimeException r ? r
                    : new UncheckedIOException((IOException) e));
            Failures.answer(store, bus, SOURCE, rid, q.code(), q.getMessage(), Stage.PUBLISH, item.output().format(), null);
            metrics.failed(Stage.PUBLISH, q.code());
        }
    }

    private void publish(Plan plan, Bus bus) throws IOException {
        if (ModelLocation.parse(plan.target().uri()) instanceof ModelLocation.Hub h) {
            publishToHub(plan, h, bus);
            return;
        }
        long t0 = System.currentTimeMillis();
        String rid = plan.requestId();
        ModelLocation.S3 location = (ModelLocation.S3) ModelLocation.parse(plan.target().uri());
        IfExists ifExists = "overwrite".equals(plan.target().ifExists()) ? IfExists.OVERWRITE : IfExists.FAIL;
        Map<String, Integer> outputOfManifest = new HashMap<>();
        S3Target target = new S3Target(store.s3(), location, ifExists,
                manifest -> steps.beforeManifest(outputOfManifest.get(manifest)));
        // what the target held before this request wrote to it: now, or when an attempt that crashed began
        // (recorded before anything is written there); the old manifests (overwrite) and those of an
        // interrupted attempt are withdrawn at once: from here on a reader sees no complete artifact
        // until the new one is
        ObjectRef begunRef = store.ref(rid, "publishing.json");
        Begun begun = store.read(begunRef, Begun.class);
        if (begun == null) {
            target.stage(before -> store.write(begunRef, new Begun(before)));
        } else {
            LOG.info(() -> "request " + rid + ": publishing again over what an interrupted attempt wrote to " + location.uri());
            target.resume(begun.targetBefore());
        }
        Path scratch = store.scratch(rid + "-publish");
        try {
            // the source's config and the files that travel with the weights, fetched once for every output
            Path sourceFiles = Files.createDirectories(scratch.resolve("source"));
            Path config = sourceFiles.resolve(Checkpoint.CONFIG_FILE);
            store.download(plan.config(), config);
            ObjectNode sourceConfig = (ObjectNode) JSON.readTree(config.toFile());
            if (plan.outputs().stream().anyMatch(o -> !o.shardFiles().isEmpty())) {
                for (Plan.NamedObject other : plan.otherFiles()) {
                    store.download(other.object(), sourceFiles.resolve(other.name()));
                }
            }
            Map<String, Long> stageMillis = new LinkedHashMap<>();
            stageMillis.put(Stage.FETCH.wire(), plan.fetchMillis());
            List<PendingOutput> pending = new ArrayList<>();
            for (Plan.PlannedOutput o : plan.outputs()) {
                Path dir = scratch.resolve("out-" + o.index());
                Files.createDirectories(dir);
                ModelLocation.S3 at = (ModelLocation.S3) ModelLocation.parse(o.uri());
                if (!at.bucket().equals(location.bucket()) || !at.keyPrefix().startsWith(location.keyPrefix())) {
                    throw QuantflowException.of(Reason.UNEXPECTED, "the output " + o.uri() + " is not inside the target " + location.uri());
                }
                String folder = at.keyPrefix().substring(location.keyPrefix().length());
                Sink sink = new Sink() {
                    @Override
                    public void shard(Plan.PlannedOutput out, ObjectRef from, String file, long bytes, Path d) {
                        target.copy(store.objects(), from.key(), folder + file, bytes);
                        steps.shardCopied(out.index(), at.keyPrefix() + file);
                    }

                    @Override
                    public void write(String path, Path file) {
                        target.write(path, file);
                    }
                };
                pending.add(assemble(plan, o, folder, sink, sourceConfig, sourceFiles, dir, stageMillis));
            }
            stageMillis.put(Stage.PUBLISH.wire(), System.currentTimeMillis() - t0);
            long total = System.currentTimeMillis() - plan.receivedAt();
            List<Answers.CompletedOutput> outputs = new ArrayList<>();
            for (PendingOutput p : pending) {
                Manifest m = p.manifest(new Manifest.Timings(total, Map.copyOf(stageMillis)));
                String path = p.folder() + Manifest.FILE_NAME;
                outputOfManifest.put(path, p.output().index());
                target.writeManifest(path, Json.bytes(m));
                outputs.add(new Answers.CompletedOutput(p.output().options().format(), p.output().uri(), m));
            }
            target.commit();
            CloudEvent done = CloudEvent.of(EventTypes.COMPLETED, SOURCE, "completed/" + rid, rid,
                    new Answers.Completed(rid, false, outputs));
            if (store.answer(rid, Topics.COMPLETED, done, bus)) {
                metrics.completed(total);
                LOG.info(() -> "request " + rid + " completed in " + total + " ms: " + plan.target().uri());
            }
            store.deleteIntermediates(rid);
        } finally {
            store.release(scratch);
        }
    }


    /**
     * Publishes to a Hub repository: every output's files uploaded (shards fetched from the work bucket one at
     * a time), then one commit with the manifests. The request id names the commit: a redelivery whose commit
     * landed answers with it, and the Hub keeps what was uploaded, so an interrupted attempt does not upload it
     * again.
     */
    private void publishToHub(Plan plan, ModelLocation.Hub location, Bus bus) throws IOException {
        long t0 = System.currentTimeMillis();
        String rid = plan.requestId();
        IfExists ifExists = "overwrite".equals(plan.target().ifExists()) ? IfExists.OVERWRITE : IfExists.FAIL;
        long total = 0;
        for (Plan.PlannedOutput o : plan.outputs()) {
            OutputSpec spec = OutputOptions.spec(o.options(), plan.outputs().size());
            if (!spec.hasWeights()) {
                continue;
            }
            Stage last = OutputOptions.itinerary(spec.format()).get(OutputOptions.itinerary(spec.format()).size() - 2);
            for (String file : o.shardFiles()) {
                ObjectRef shard = store.ref(rid, o.index() + "-" + spec.format().id() + "/" + last.wire() + "/" + file);
                StageOutput out = store.read(new ObjectRef(shard.bucket(), StageOutput.key(shard.key())), StageOutput.class);
                total += out == null ? 0 : out.result().bytes();
            }
            for (Plan.NamedObject other : plan.otherFiles()) {
                total += other.bytes();
            }
        }
        UploadProgress progress = new UploadProgress(rid, total, bus);
        Path scratch = store.scratch(rid + "-publish");
        try (HubTarget target = new HubTarget(hub.get(), location, ifExists, FetchStage.hubOptions(plan.target(), rid), progress)) {
            target.stage();
            Path sourceFiles = Files.createDirectories(scratch.resolve("source"));
            Path config = sourceFiles.resolve(Checkpoint.CONFIG_FILE);
            store.download(plan.config(), config);
            ObjectNode sourceConfig = (ObjectNode) JSON.readTree(config.toFile());
            if (plan.outputs().stream().anyMatch(o -> !o.shardFiles().isEmpty())) {
                for (Plan.NamedObject other : plan.otherFiles()) {
                    store.download(other.object(), sourceFiles.resolve(other.name()));
                }
            }
            Map<String, Long> stageMillis = new LinkedHashMap<>();
            stageMillis.put(Stage.FETCH.wire(), plan.fetchMillis());
            List<PendingOutput> pending = new ArrayList<>();
            for (Plan.PlannedOutput o : plan.outputs()) {
                Path dir = Files.createDirectories(scratch.resolve("out-" + o.index()));
                String folder = plan.outputs().size() == 1 ? "" : o.options().format() + "/";
                Sink sink = new Sink() {
                    @Override
                    public void shard(Plan.PlannedOutput out, ObjectRef from, String file, long bytes, Path d) throws IOException {
                        Path local = Files.createDirectories(d.resolve(".shards")).resolve(file);
                        store.download(from, local);
                        target.write(folder + file, local);
                        steps.shardCopied(out.index(), folder + file);
                        Files.deleteIfExists(local);
                    }

                    @Override
                    public void write(String path, Path file) {
                        target.write(path, file);
                    }
                };
                pending.add(assemble(plan, o, folder, sink, sourceConfig, sourceFiles, dir, stageMillis));
            }
            stageMillis.put(Stage.PUBLISH.wire(), System.currentTimeMillis() - t0);
            long totalMillis = System.currentTimeMillis() - plan.receivedAt();
            List<Answers.CompletedOutput> outputs = new ArrayList<>();
            for (PendingOutput p : pending) {
                Manifest m = p.manifest(new Manifest.Timings(totalMillis, Map.copyOf(stageMillis)));
                String path = p.folder() + Manifest.FILE_NAME;
                steps.beforeManifest(p.output().index());
                target.writeManifest(path, Json.bytes(m));
                outputs.add(new Answers.CompletedOutput(p.output().options().format(), p.output().uri(), m));
            }
            target.commit();
            progress.finished();
            HubTarget.Published pub = target.published();
            CloudEvent done = CloudEvent.of(EventTypes.COMPLETED, SOURCE, "completed/" + rid, rid,
                    new Answers.Completed(rid, false, outputs, new Answers.HubCommit(pub.repo(), pub.branch(), pub.commit(),
                            pub.pullRequestUrl())));
            if (store.answer(rid, Topics.COMPLETED, done, bus)) {
                metrics.completed(totalMillis);
                LOG.info(() -> "request " + rid + " completed in " + totalMillis + " ms: " + plan.target().uri() + " commit " + pub.commit()
                        + (pub.reused() ? " (it had landed already)" : ""));
            }
            store.deleteIntermediates(rid);
        } finally {
            store.release(scratch);
        }
    }

    /** conversion-progress events of the upload to a Hub target: bytes sent of the bytes to send, at most one a second. */
    private static final class UploadProgress implements UploadListener {
        private final String rid;
        private final Bus bus;
        private final java.util.concurrent.atomic.AtomicLong sent = new java.util.concurrent.atomic.AtomicLong();
        private volatile long total;
        private long lastNanos;
        private int n;

        UploadProgress(String rid, long total, Bus bus) {
            this.rid = rid;
            this.total = total;
            this.bus = bus;
            emit(0);
        }

        @Override
        public void uploaded(long bytes) {
            long done = sent.addAndGet(bytes);
            long now = System.nanoTime();
            synchronized (this) {
                if (now - lastNanos < 1_000_000_000L) {
                    return;
                }
                lastNanos = now;
            }
            emit(done);
        }

        void finished() {
            total = Math.max(total, sent.get());
            emit(total);
        }

        private synchronized void emit(long done) {
            long t = Math.max(total, done);
            bus.progress(rid, CloudEvent.of(EventTypes.PROGRESS, SOURCE, "publish-upload/" + rid + "/" + n++, rid,
                    new Answers.Progress(rid, Stage.PUBLISH, null, null, Math.min(done, t), t)));
        }
    }

    /**
     * An output whose files are at the target; its manifest is written once all outputs are there.
     *
     * @param folder where the output's files are, relative to the target: "" or {@code FORMAT/}
     */
    private record PendingOutput(Plan plan, Plan.PlannedOutput output, String folder, List<Manifest.FileEntry> files, String engine,
                                 Quality quality) {
        Manifest manifest(Manifest.Timings timings) {
            OutputSpec spec = OutputOptions.spec(output.options(), plan.outputs().size());
            long params = plan.source().parameters();
            boolean withAdapter = spec.format().adapterUse() == AdapterUse.REQUIRED;
            return new Manifest(Manifest.VERSION, spec.format().id(), plan.source(), withAdapter ? plan.adapterInfo() : null,
                    Manifest.Options.of(spec.quant(), engine),
                    Manifest.Output.of(files, params, output.quantizedTensors(), output.keptTensors(), output.quantizedParameters(),
                            QualityBuilder.requantizationError(plan.sourceBnb4bit(), quality)),
                    files, timings, null, null, null, quality);
        }
    }

    private PendingOutput assemble(Plan plan, Plan.PlannedOutput o, String folder, Sink target,
                                   ObjectNode sourceConfig, Path sourceFiles, Path dir, Map<String, Long> stageMillis) throws IOException {
        OutputSpec spec = OutputOptions.spec(o.options(), plan.outputs().size());
        List<Manifest.FileEntry> files = new ArrayList<>();
        String engine = null;
        Quality quality = null;
        if (!spec.hasWeights()) {
            Path adapterDir = dir.resolve(".adapter");
            Files.createDirectories(adapterDir);
            for (String f : plan.adapterFiles()) {
                store.download(new ObjectRef(plan.adapter().bucket(), plan.adapter().prefix() + f), adapterDir.resolve(f));
            }
            try (LoraAdapter adapter = LoraAdapter.open(adapterDir)) {
                spec.format().writeWithoutWeights(adapter, dir);
            }
        } else {
            List<Stage> itinerary = OutputOptions.itinerary(spec.format());
            Stage last = itinerary.get(itinerary.size() - 2);
            List<ShardResult> results = new ArrayList<>();
            for (String file : o.shardFiles()) {
                ObjectRef shard = store.ref(plan.requestId(), o.index() + "-" + spec.format().id() + "/" + last.wire() + "/" + file);
                StageOutput out = store.read(new ObjectRef(shard.bucket(), StageOutput.key(shard.key())), StageOutput.class);
                if (out == null) {
                    throw QuantflowException.of(Reason.STORE_OBJECT_MISSING, "the " + last + " result of " + file + " is missing from the work bucket");
                }
                target.shard(o, shard, file, out.result().bytes(), dir);
                files.add(new Manifest.FileEntry(file, out.result().bytes(), out.result().sha256()));
                results.add(out.result());
                stageMillis.merge(last.wire(), out.millis(), Long::sum);
                engine = engine == null ? out.engine() : engine;
            }
            ModelFiles.writeIndexAndConfig(sourceConfig, plan.indexed(), spec, results, dir);
            quality = spec.quantizes() ? OutputQuality.of(results) : null;
            for (Plan.NamedObject other : plan.otherFiles()) {
                Files.copy(sourceFiles.resolve(other.name()), dir.resolve(other.name()));
            }
            ModelFiles.writeModelCard(sourceConfig, spec, dir);
        }
        try (Stream<Path> list = Files.list(dir)) {
            for (Path p : list.filter(Files::isRegularFile).toList()) {
                target.write(folder + p.getFileName(), p);
                files.add(new Manifest.FileEntry(p.getFileName().toString(), Files.size(p), Digests.sha256(p)));
            }
        }
        files.sort(Comparator.comparing(Manifest.FileEntry::path));
        return new PendingOutput(plan, o, folder, List.copyOf(files), engine, quality);
    }
}
