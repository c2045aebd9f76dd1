package io.quantflow.core.pipeline.stage;

import com.fasterxml.jackson.databind.JsonNode;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.lora.LoraAdapter;
import io.quantflow.core.pipeline.RequestCheck;
import io.quantflow.core.pipeline.events.Answers;
import io.quantflow.core.pipeline.events.CloudEvent;
import io.quantflow.core.pipeline.events.ConversionRequest;
import io.quantflow.core.pipeline.events.EventTypes;
import io.quantflow.core.pipeline.events.Json;
import io.quantflow.core.pipeline.events.ObjectRef;
import io.quantflow.core.pipeline.events.OutputRequest;
import io.quantflow.core.pipeline.events.ShardWork;
import io.quantflow.core.pipeline.events.Stage;
import io.quantflow.core.pipeline.events.TargetRef;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.source.SourceResolver;
import io.quantflow.core.storage.ObjectInfo;
import io.quantflow.core.storage.Role;
import io.quantflow.core.target.HubPublishOptions;
import io.quantflow.core.target.HubTarget;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.target.UploadListener;
import io.quantflow.core.util.Digests;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/**
 * The fetcher's work on one {@code conversion-requested} event: check the request, answer at once
 * what can be answered (a duplicate, a target that holds a model, a source that is not there),
 * stage a source or adapter that is not in the object store, read the source's config, index and
 * shard headers (ranged reads; no weights are downloaded), check the outputs against them as
 * {@code quantflow convert} would, write the plan, and send one work item per (output, shard).
 */
public final class FetchStage {
    private static final Logger LOG = Logger.getLogger(FetchStage.class.getName());
    private static final Pattern REQUEST_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    static final String SOURCE = Stage.FETCH.eventSource();

    private final WorkStore store;
    private final Function<Path, SourceResolver> resolvers;
    private final StageMetrics metrics;
    private final StoredModel models;

    /**
     * @param resolvers makes a resolver of hf:// (and s3://) locations caching under a directory
     */
    public FetchStage(WorkStore store, Function<Path, SourceResolver> resolvers, StageMetrics metrics) {
        this.store = store;
        this.resolvers = resolvers;
        this.metrics = metrics;
        this.models = new StoredModel(store);
    }

    /** Handles one record value; a record that is not a CloudEvent throws {@link CloudEvent.MalformedEvent}. */
    public void handle(String value, Bus bus) {
        CloudEvent event = CloudEvent.parse(value);
        if (!EventTypes.REQUESTED.equals(event.type())) {
            throw new CloudEvent.MalformedEvent("topic conversion-requested carries " + EventTypes.REQUESTED + ", not " + event.type());
        }
        long t0 = System.currentTimeMillis();
        String requestId = requestId(event);
        try {
            ConversionRequest request = parseRequest(event, requestId);
            if (!REQUEST_ID.matcher(requestId).matches()) {
                throw QuantflowException.of(Reason.REQUEST_MALFORMED, "requestId must be letters, digits, '.', '_' or '-' (at most 128), starting"
                        + " with a letter or digit: it is part of object keys");
            }
            if (store.answerSent(requestId)) {
                metrics.duplicate();
                LOG.info(() -> "request " + requestId + " was answered already; the duplicate is dropped");
                return;
            }
            WorkStore.Answer claimed = store.answer(requestId);
            if (claimed != null) {
                // answered, but the answer may not have reached the broker before a crash
                store.answer(requestId, claimed.topic(), claimed.cloudEvent(), bus);
                return;
            }
            String hash = hash(request);
            RequestRecord first = new RequestRecord(requestId, hash, event.source(), event.id());
            if (!store.writeIfAbsent(store.ref(requestId, "request.json"), first)) {
                RequestRecord seen = store.read(store.ref(requestId, "request.json"), RequestRecord.class);
                if (seen != null && !seen.hash().equals(hash)) {
                    metrics.reusedId();
                    LOG.warning(() -> "request id " + requestId + " was reused for a different request (event " + event.source()
                            + " " + event.id() + "); it is not converted, the first request's answer stands");
                    return;
                }
                metrics.duplicate();
                LOG.info(() -> "request " + requestId + " is being converted; planning it again (a redelivery)");
            }
            plan(requestId, request, hash, t0, bus);
        } catch (Bus.Unavailable e) {
            throw e;
        } catch (QuantflowException e) {
            fail(requestId, e.code(), e.getMessage(), bus);
        } catch (CloudEvent.InvalidPayload e) {
            fail(requestId, ErrorCode.INVALID_REQUEST, e.getMessage(), bus);
        } catch (RuntimeException e) {
            QuantflowException q = Failures.internal("planning request " + requestId, e);
            fail(requestId, q.code(), q.getMessage(), bus);
        }
    }

    private void fail(String requestId, ErrorCode code, String message, Bus bus) {
        Failures.answerForRequest(store, bus, SOURCE, requestId, code, message, Stage.FETCH);
        metrics.failed(Stage.FETCH, code);
    }

    /** data.requestId, else derived from the event's source and id (docs/adr/0009). */
    static String requestId(CloudEvent event) {
        JsonNode id = event.data().get("requestId");
        if (id != null && id.isTextual() && REQUEST_ID.matcher(id.textValue()).matches()) {
            return id.textValue();
        }
        return "ce-" + Digests.sha256(event.source() + "\n" + event.id()).substring(0, 32);
    }

    private static ConversionRequest parseRequest(CloudEvent event, String requestId) {
        ConversionRequest r = event.data(ConversionRequest.class);
        if (r.requestId() != null && event.subject() != null && !event.subject().equals(r.requestId())) {
            throw QuantflowException.of(Reason.REQUEST_MALFORMED, "the event's subject (" + event.subject() + ") differs from data.requestId ("
                    + r.requestId() + ")");
        }
        if (r.requestId() != null && !r.requestId().equals(requestId)) {
            throw QuantflowException.of(Reason.REQUEST_MALFORMED, "requestId must be letters, digits, '.', '_' or '-' (at most 128)");
        }
        if (r.source() == null || r.outputs() == null || r.outputs().isEmpty() || r.target() == null || r.target().uri() == null) {
            throw QuantflowException.of(Reason.REQUEST_MALFORMED, "a request needs source, outputs (at least one) and target.uri");
        }
        if (r.outputs().size() > 4) {
            throw QuantflowException.of(Reason.REQUEST_MALFORMED, "at most 4 outputs, one per format");
        }
        return new ConversionRequest(requestId, r.source(), r.adapter(), r.outputs(), r.target());
    }

    private void plan(String requestId, ConversionRequest request, String requestHash, long t0, Bus bus) {
        boolean withAdapter = request.adapter() != null;
        List<OutputRequest> resolved = new ArrayList<>();
        for (int i = 0; i < request.outputs().size(); i++) {
            resolved.add(OutputOptions.resolve(request.outputs().get(i), i, withAdapter));
        }
        if (resolved.stream().map(OutputRequest::format).distinct().count() != resolved.size()) {
            throw QuantflowException.of(Reason.FORMAT_REPEATED, "a format is asked for twice; each format at most once per request");
        }
        ModelLocation target = targetLocation(request.target().uri());
        IfExists ifExists = ifExists(request.target());
        List<String> uris = new ArrayList<>();
        for (OutputRequest o : resolved) {
            uris.add(resolved.size() == 1 ? target.uri() : target.uri() + "/" + o.format());
        }
        if (target instanceof ModelLocation.S3 s3 && ifExists == IfExists.FAIL
                && !store.s3().bucket(Role.TARGET, s3.bucket()).isEmpty(s3.keyPrefix())) {
            throw QuantflowException.of(Reason.TARGET_NOT_EMPTY, target.uri() + " already holds files; ask for ifExists: overwrite"
                    + " to replace them");
        }
        Path scratch = store.scratch(requestId + "-fetch");
        try (SourceResolver resolver = resolvers.apply(scratch.resolve("cache"))) {
            if (target instanceof ModelLocation.Hub hub) {
                // the token may write the repository, which holds no weights (unless this request committed them: a redelivery)
                try (HubTarget t = new HubTarget(resolver.hubSettings(), hub, ifExists, hubOptions(request.target(), requestId),
                        UploadListener.NONE)) {
                    t.check();
                }
            }
            StoredModel.Located source = models.locate(requestId, request.source(), "source", resolver, scratch);
            StoredModel.Located adapter = withAdapter ? models.locate(requestId, request.adapter(), "adapter", resolver, scratch) : null;
            Path headers = scratch.resolve("headers");
            Files.createDirectories(headers);
            Map<String, ObjectInfo> files = models.mirrorHeaders(source, headers);
            Path adapterDir = null;
            if (adapter != null) {
                adapterDir = scratch.resolve("adapter");
                Files.createDirectories(adapterDir);
                for (ObjectInfo o : adapter.objects()) {
                    store.s3().bucket(Role.SOURCE, adapter.bucket()).download(o.key(), adapterDir.resolve(StoredModel.name(o.key())));
                }
            }
            List<OutputSpec> specs = resolved.stream().map(o -> OutputOptions.spec(o, resolved.size())).toList();
            try (Checkpoint checkpoint = Checkpoint.open(headers);
                 LoraAdapter lora = adapterDir == null ? null : LoraAdapter.open(adapterDir)) {
                RequestCheck.Summary summary = models.check(request.source(), checkpoint, files, source, lora, specs);
                List<Plan.PlannedOutput> outputs = new ArrayList<>();
                for (int i = 0; i < resolved.size(); i++) {
                    OutputRequest o = resolved.get(i);
                    boolean lorOnly = !Formats.parse(o.format()).hasWeights();
                    List<String> shardFiles = lorOnly ? List.of() : checkpoint.shards().stream().map(Checkpoint.Shard::fileName).toList();
                    RequestCheck.OutputCounts c = summary.outputs().get(i);
                    outputs.add(new Plan.PlannedOutput(i, o, uris.get(i), shardFiles, c.quantizedCount(), c.keptCount(),
                            c.quantizedParameters()));
                }
                List<Plan.NamedObject> other = new ArrayList<>();
                for (Path p : checkpoint.otherFiles()) {
                    String n = p.getFileName().toString();
                    ObjectInfo o = files.get(n);
                    other.add(new Plan.NamedObject(n, new ObjectRef(source.bucket(), o.key()), o.size()));
                }
                Manifest.Source ms = new Manifest.Source(request.source(), summary.weightBytes(), summary.parameters(),
                        summary.dtype(), summary.shards(), request.source(), source.revision(), source.contentHash());
                Manifest.Adapter ma = lora == null ? null : new Manifest.Adapter(request.adapter(), lora.modules().size(),
                        lora.replacedTensors().size(), lora.config().r(), lora.config().loraAlpha(), lora.config().useRslora(),
                        lora.config().useDora(), request.adapter(), adapter.contentHash());
                ShardWork.AdapterRef adapterRef = adapter == null ? null : new ShardWork.AdapterRef(adapter.bucket(), adapter.prefix());
                List<String> adapterFiles = adapter == null ? List.of() : adapter.objects().stream().map(o -> StoredModel.name(o.key())).toList();
                TargetRef targetRef = new TargetRef(target.uri(), ifExists.name().toLowerCase(), request.target().createPrivate(),
                        request.target().createPr());
                Plan plan = new Plan(requestId, requestHash, t0, System.currentTimeMillis() - t0,
                        new ObjectRef(source.bucket(), files.get(Checkpoint.CONFIG_FILE).key()), checkpoint.indexed(), other,
                        adapterRef, adapterFiles, ms, summary.bnb4bit(), ma, outputs, targetRef);
                store.write(store.ref(requestId, "plan.json"), plan);
                send(plan, checkpoint, files, source, bus);
                metrics.planned(plan.totalItems());
            }
        } catch (IOException e) {
            throw QuantflowException.of(Reason.IO_ERROR, "cannot stage the request locally: " + e.getMessage(), e);
        } finally {
            store.release(scratch);
        }
    }

    /** One work item per (output, shard), each to its first stage's topic. */
    private void send(Plan plan, Checkpoint checkpoint, Map<String, ObjectInfo> files, StoredModel.Located source, Bus bus) {
        for (Plan.PlannedOutput o : plan.outputs()) {
            OutputFormat format = Formats.parse(o.options().format());
            List<Stage> itinerary = OutputOptions.itinerary(format);
            ModelLocation.S3 out = hubTarget(plan) ? null : s3Location(o.uri(), "target");
            if (!format.hasWeights()) {
                String file = LoraAdapter.WEIGHTS_FILE;
                ObjectRef in = new ObjectRef(plan.adapter().bucket(), plan.adapter().prefix() + file);
                ShardWork item = new ShardWork(plan.requestId(), o.options(), new ShardWork.Shard(0, 1, file, in,
                        Math.max(1, store.s3().bucket(Role.SOURCE, in.bucket()).head(in.key()).size()), null), plan.adapter(), itinerary, 0,
                        Map.of(Stage.PUBLISH, publishRef(plan, o, format, out, file)), plan.target());
                bus.send(item.stage().topic(), plan.requestId(), event(item));
                continue;
            }
            List<String> shards = o.shardFiles();
            for (int s = 0; s < shards.size(); s++) {
                String file = shards.get(s);
                ObjectInfo info = files.get(file);
                Map<Stage, ObjectRef> keys = new LinkedHashMap<>();
                for (Stage stage : itinerary) {
                    keys.put(stage, stage == Stage.PUBLISH ? publishRef(plan, o, format, out, file)
                            : store.ref(plan.requestId(), o.index() + "-" + format.id() + "/" + stage.wire() + "/" + file));
                }
                boolean merges = format.mergesAdapter();
                ShardWork item = new ShardWork(plan.requestId(), o.options(),
                        new ShardWork.Shard(s, shards.size(), file, new ObjectRef(source.bucket(), info.key()), info.size(), null),
                        merges ? plan.adapter() : null, itinerary, 0, keys, plan.target());
                bus.send(item.stage().topic(), plan.requestId(), event(item));
            }
        }
        long total = checkpoint.shardFileBytes();
        bus.progress(plan.requestId(), CloudEvent.of(EventTypes.PROGRESS, SOURCE, "fetch/" + plan.requestId(), plan.requestId(),
                Answers.Progress.planned(plan.requestId(), Stage.FETCH, total)));
    }

    static CloudEvent event(ShardWork item) {
        return CloudEvent.of(EventTypes.SHARD_WORK, SOURCE, item.eventId(), item.requestId(), item);
    }

    private static boolean hubTarget(Plan plan) {
        return plan.target().uri().startsWith("hf://");
    }

    /**
     * Where the publisher puts a shard: its key at an S3 target; for a Hub target (which has no keys before the
     * commit) a key in the work bucket that names it.
     */
    private ObjectRef publishRef(Plan plan, Plan.PlannedOutput o, OutputFormat format, ModelLocation.S3 out, String file) {
        return out != null ? new ObjectRef(out.bucket(), out.keyPrefix() + file)
                : store.ref(plan.requestId(), o.index() + "-" + format.id() + "/" + Stage.PUBLISH.wire() + "/" + file);
    }

    /** The target: an S3 prefix or a Hub repository at a branch. */
    private static ModelLocation targetLocation(String uri) {
        ModelLocation l;
        try {
            l = ModelLocation.parse(uri);
        } catch (IllegalArgumentException | QuantflowException e) {
            throw QuantflowException.of(Reason.LOCATION_INVALID, "the target " + uri + " is not an s3://bucket/prefix or hf://org/name"
                    + " location: " + e.getMessage());
        }
        if (l instanceof ModelLocation.Hub h && !h.repo().id().contains("/")) {
            throw QuantflowException.of(Reason.LOCATION_INVALID, "the target " + uri + " must name its namespace: hf://org/name[@branch]");
        }
        if (l instanceof ModelLocation.Local) {
            throw QuantflowException.of(Reason.LOCATION_NOT_ALLOWED, "the target must be an s3://bucket/prefix or hf://org/name location,"
                    + " not " + uri);
        }
        return l;
    }

    /** How a Hub target is written: the request's options, and its id naming the commit (a redelivery finds it). */
    static HubPublishOptions hubOptions(TargetRef t, String requestId) {
        return new HubPublishOptions(Boolean.TRUE.equals(t.createPrivate()), Boolean.TRUE.equals(t.createPr()), requestId);
    }

    private static ModelLocation.S3 s3Location(String uri, String what) {
        try {
            if (ModelLocation.parse(uri) instanceof ModelLocation.S3 s) {
                return s;
            }
        } catch (IllegalArgumentException | QuantflowException e) {
            throw QuantflowException.of(Reason.LOCATION_INVALID, "the " + what + " " + uri + " is not an s3://bucket/prefix location: " + e.getMessage());
        }
        throw QuantflowException.of(Reason.LOCATION_NOT_ALLOWED, "the " + what + " must be an s3://bucket/prefix location, not " + uri);
    }

    private static IfExists ifExists(TargetRef t) {
        if (t.ifExists() == null || t.ifExists().equals("fail")) {
            return IfExists.FAIL;
        }
        if (t.ifExists().equals("overwrite")) {
            return IfExists.OVERWRITE;
        }
        throw QuantflowException.of(Reason.OPTION_INVALID, "target.ifExists must be fail or overwrite, not " + t.ifExists());
    }

    private static String hash(ConversionRequest r) {
        return Digests.sha256(new String(Json.bytes(r), StandardCharsets.UTF_8));
    }

    /** The first request seen under an id. */
    public record RequestRecord(String requestId, String hash, String eventSource, String eventId) {
    }
}
