package io.quantflow.core.pipeline.stage;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.pipeline.events.CloudEvent;
import io.quantflow.core.pipeline.events.Json;
import io.quantflow.core.pipeline.events.ObjectRef;
import io.quantflow.core.storage.ObjectInfo;
import io.quantflow.core.storage.Role;
import io.quantflow.core.storage.S3Bucket;
import io.quantflow.core.storage.S3Storage;
import io.quantflow.core.util.FileTrees;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.logging.Logger;

/**
 * The pipeline's state, all of it in the object store under {@code work/<requestId>/} of the work
 * bucket, so that any instance of a stage can pick up any item after a crash or a rebalance:
 * <ul>
 * <li>{@code request.json}: the request as first received (its body hash detects a reused id);</li>
 * <li>{@code plan.json}: what the fetcher planned ({@link Plan});</li>
 * <li>{@code source/}, {@code adapter/}: a source or adapter the fetcher staged (hf://);</li>
 * <li>{@code <output>-<format>/<stage>/<file>} and {@code ….result.json}: each stage's output shard and what it wrote;</li>
 * <li>{@code done/<output>/<shard>.json}: the shards the publisher has seen;</li>
 * <li>{@code publishing.json}: what the target held when the publisher began to write it, so that an
 * attempt after a crash tells its own files from someone else's;</li>
 * <li>{@code answer.json}: the one answer of the request, written if absent (the first stage to
 * claim it wins); {@code answer.sent}: written once the broker has the answer.</li>
 * </ul>
 * Plus a local scratch directory where a stage downloads what it works on. The work bucket plays
 * {@link Role#WORK}: a failure there is the pipeline's, not the request's.
 */
public final class WorkStore {
    private static final Logger LOG = Logger.getLogger(WorkStore.class.getName());

    private final S3Storage s3;
    private final String bucket;
    private final Path scratch;

    public WorkStore(S3Storage s3, String bucket, Path scratch) {
        this.s3 = s3;
        this.bucket = bucket;
        this.scratch = scratch;
    }

    public S3Storage s3() {
        return s3;
    }

    /** The work bucket's objects. */
    public S3Bucket objects() {
        return s3.bucket(Role.WORK, bucket);
    }

    private S3Bucket objects(ObjectRef ref) {
        return s3.bucket(Role.WORK, ref.bucket());
    }

    public String bucket() {
        return bucket;
    }

    public static String prefix(String requestId) {
        return "work/" + requestId + "/";
    }

    public ObjectRef ref(String requestId, String rest) {
        return new ObjectRef(bucket, prefix(requestId) + rest);
    }

    /** A fresh local directory for one piece of work; delete it with {@link #release}. */
    public Path scratch(String name) {
        try {
            Files.createDirectories(scratch);
            return Files.createTempDirectory(scratch, name.replaceAll("[^A-Za-z0-9._-]", "_") + "-");
        } catch (IOException e) {
            throw QuantflowException.of(Reason.LOCAL_WRITE_FAILED, "cannot create a scratch directory under " + scratch + ": " + e.getMessage(), e);
        }
    }

    public void release(Path dir) {
        if (dir != null) {
            FileTrees.delete(dir);
        }
    }

    public <T> T read(ObjectRef ref, Class<T> type) {
        byte[] b = objects(ref).readSmall(ref.key());
        return b == null ? null : Json.read(b, type);
    }

    public void write(ObjectRef ref, Object value) {
        objects(ref).put(ref.key(), Json.bytes(value));
    }

    public boolean writeIfAbsent(ObjectRef ref, Object value) {
        return objects(ref).putIfAbsent(ref.key(), Json.bytes(value));
    }

    // ---- the one answer of a request

    /** The answer claimed for a request: the event and the topic it goes to. */
    public record Answer(String topic, String event) {
        public CloudEvent cloudEvent() {
            return CloudEvent.parse(event);
        }
    }

    /** Whether the broker has the request's answer: nothing more is to be done for it. */
    public boolean answerSent(String requestId) {
        return objects().head(prefix(requestId) + "answer.sent") != null;
    }

    /** The claimed answer, or null. */
    public Answer answer(String requestId) {
        return read(ref(requestId, "answer.json"), Answer.class);
    }

    /**
     * Answers a request once: claims {@code answer.json} unless another answer was claimed first,
     * sends the claimed answer (this one or the earlier) unless it was sent, then records it sent.
     * A crash between sending and recording can send it twice; nothing else can.
     *
     * @return whether this answer (and not an earlier one) is the request's answer
     */
    public boolean answer(String requestId, String topic, CloudEvent event, Bus bus) {
        Answer ours = new Answer(topic, event.toJson());
        boolean mine = writeIfAbsent(ref(requestId, "answer.json"), ours);
        Answer claimed = mine ? ours : answer(requestId);
        if (!answerSent(requestId)) {
            bus.send(claimed.topic(), requestId, claimed.cloudEvent());
            objects().put(prefix(requestId) + "answer.sent", new byte[0]);
        }
        return mine;
    }

    /**
     * Deletes the request's intermediate objects, keeping its request, plan and answer records, and
     * aborts the multipart uploads left open under its prefix by a stage killed while uploading
     * (best effort: a store that cannot list uploads leaves them to its lifecycle rules).
     */
    public void deleteIntermediates(String requestId) {
        List<String> keys = objects().list(prefix(requestId)).stream().map(ObjectInfo::key)
                .filter(k -> !k.equals(prefix(requestId) + "request.json") && !k.equals(prefix(requestId) + "plan.json")
                        && !k.startsWith(prefix(requestId) + "answer."))
                .toList();
        if (!keys.isEmpty()) {
            objects().delete(keys);
        }
        abortUploads(prefix(requestId));
    }

    /** Aborts the open multipart uploads under a prefix of the work bucket; best effort, never throws. */
    private void abortUploads(String prefix) {
        try {
            int n = objects().abortUploads(prefix, k -> true);
            if (n > 0) {
                LOG.info(() -> "aborted " + n + " multipart upload(s) left open under s3://" + bucket + "/" + prefix);
            }
        } catch (RuntimeException e) {
            LOG.warning(() -> "cannot abort the multipart uploads left open under s3://" + bucket + "/" + prefix + ": " + e.getMessage());
        }
    }

    /** Uploads a local file to the work bucket (a stage's output shard). */
    public void upload(ObjectRef ref, Path file) {
        objects(ref).upload(ref.key(), file);
    }

    /**
     * Downloads an object into a local file; returns its sha256. The object is the source's, or the
     * pipeline's copy of it ({@link Role#SOURCE}: missing, it is SOURCE_NOT_FOUND).
     */
    public String download(ObjectRef ref, Path file) {
        return s3.bucket(Role.SOURCE, ref.bucket()).download(ref.key(), file);
    }

    public String readString(ObjectRef ref) {
        byte[] b = objects(ref).readSmall(ref.key());
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }
}
