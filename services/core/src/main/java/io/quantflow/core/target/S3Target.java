package io.quantflow.core.target;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.storage.ObjectInfo;
import io.quantflow.core.storage.Role;
import io.quantflow.core.storage.S3Bucket;
import io.quantflow.core.storage.S3Storage;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.logging.Logger;

/**
 * An S3 prefix. S3 cannot rename a prefix into place, so the manifests carry the promise a rename
 * gives a directory: readers take a prefix without a manifest as holding no artifact.
 * <ul>
 * <li>stage: a prefix that holds objects is refused (TARGET_EXISTS) unless overwriting; then the old
 * manifests are deleted first, so that no reader sees an old manifest beside new files;</li>
 * <li>write: each file is a multipart upload (or a copy inside the store, {@link #copy}) at its final key;</li>
 * <li>commit: the objects of the old artifact that the new one does not have are deleted, then each manifest
 * is written only if absent ({@code If-None-Match: *}; another writer's manifest there is TARGET_EXISTS), then
 * uploads left open at the written keys (by an attempt that was killed) are aborted;</li>
 * <li>abort: the objects written are deleted (best effort).</li>
 * </ul>
 * A publication that was interrupted (the process killed) and is tried again {@link #resume resumes}:
 * what the prefix holds beyond what it held before the first attempt is that attempt's, and is written over.
 */
public final class S3Target implements Target {
    private static final Logger LOG = Logger.getLogger(S3Target.class.getName());

    private final ModelLocation.S3 location;
    private final IfExists ifExists;
    private final S3Bucket bucket;
    private final Consumer<String> beforeManifest;
    private final Set<String> written = ConcurrentHashMap.newKeySet();
    private final Map<String, byte[]> manifests = new LinkedHashMap<>();
    private List<String> before;
    private boolean committed;

    public S3Target(S3Storage s3, ModelLocation.S3 location, IfExists ifExists) {
        this(s3, location, ifExists, path -> {
        });
    }

    /** @param beforeManifest hears the path of each manifest just before it is written (to follow a commit, or fail it there) */
    public S3Target(S3Storage s3, ModelLocation.S3 location, IfExists ifExists, Consumer<String> beforeManifest) {
        this.location = location;
        this.ifExists = ifExists;
        this.bucket = s3.bucket(Role.TARGET, location.bucket());
        this.beforeManifest = beforeManifest;
    }

    @Override
    public String uri() {
        return location.uri();
    }

    @Override
    public IfExists ifExists() {
        return ifExists;
    }

    /** Fails with INVALID_REQUEST without a prefix, TARGET_EXISTS when the prefix holds objects and overwriting was not asked for. */
    @Override
    public void check() {
        if (location.prefix().isEmpty()) {
            throw QuantflowException.of(Reason.LOCATION_NOT_ALLOWED, location.uri() + ": an S3 target needs a prefix (s3://bucket/prefix)");
        }
        if (ifExists == IfExists.FAIL && !bucket.isEmpty(location.keyPrefix())) {
            throw QuantflowException.of(Reason.TARGET_NOT_EMPTY, location.uri()
                    + " already holds objects; choose another prefix or pass --if-exists overwrite to replace them");
        }
    }

    /** A first attempt: see {@link #stage(Consumer)}. */
    @Override
    public void stage() {
        stage(keys -> {
        });
    }

    /**
     * Begins a first attempt: lists what the prefix holds, refuses it unless it is empty or overwriting
     * (the request was checked before it was converted: what is there now was written meanwhile),
     * hands the listing to {@code record} before anything is changed (a caller that may be interrupted
     * keeps it for {@link #resume}), then withdraws the old manifests.
     */
    public void stage(Consumer<List<String>> record) {
        if (location.prefix().isEmpty()) {
            check();
        }
        List<String> now = keys();
        begin(now);
        record.accept(before);
        withdrawManifests(now);
    }

    /**
     * Begins again after an attempt that was interrupted: {@code heldBefore} is what the prefix held when
     * that attempt began. What it holds beyond that is the interrupted attempt's: its manifests are
     * withdrawn and its files written over.
     */
    public void resume(List<String> heldBefore) {
        List<String> now = keys();
        begin(heldBefore);
        withdrawManifests(now);
    }

    private void begin(List<String> heldBefore) {
        if (before != null) {
            throw new IllegalStateException("staged already");
        }
        if (!heldBefore.isEmpty() && ifExists == IfExists.FAIL) {
            throw QuantflowException.of(Reason.TARGET_WRITTEN_CONCURRENTLY, location.uri() + " was written by someone else while this"
                    + " request was converted; nothing was published (ask for overwrite to replace it)");
        }
        before = List.copyOf(heldBefore);
    }

    /** The manifests a reader could take as an artifact: the old ones when overwriting, and any an interrupted attempt wrote. */
    private void withdrawManifests(List<String> now) {
        List<String> old = now.stream().filter(ArtifactFiles::isManifest).filter(k -> ifExists == IfExists.OVERWRITE || !before.contains(k))
                .toList();
        if (!old.isEmpty()) {
            bucket.delete(old);
        }
    }

    /** What the prefix held when this publication (or the first attempt of it) began. */
    public List<String> heldBefore() {
        requireStaged();
        return before;
    }

    /** Every key under the prefix now. */
    public List<String> keys() {
        return bucket.list(location.keyPrefix()).stream().map(ObjectInfo::key).toList();
    }

    @Override
    public void write(String path, Path file) {
        String key = key(path);
        bucket.upload(key, file);
        written.add(key);
    }

    /** Adds a file copied from an object of the same store (no bytes through this process). */
    public void copy(S3Bucket from, String fromKey, String path, long size) {
        String key = key(path);
        bucket.copyFrom(from, fromKey, key, size);
        written.add(key);
    }

    @Override
    public void writeManifest(String path, byte[] json) {
        key(path);
        manifests.put(path, json.clone());
    }

    /** Deletes what the old artifact had and the new one has not (overwriting), then writes the manifests, each only if absent. */
    @Override
    public void commit() {
        requireStaged();
        if (ifExists == IfExists.OVERWRITE) {
            List<String> stale = before.stream().filter(k -> !written.contains(k) && !manifests.containsKey(relative(k))).toList();
            if (!stale.isEmpty()) {
                bucket.delete(stale);
            }
        }
        for (Map.Entry<String, byte[]> m : manifests.entrySet()) {
            beforeManifest.accept(m.getKey());
            String key = key(m.getKey());
            if (!bucket.putIfAbsent(key, m.getValue())) {
                throw QuantflowException.of(Reason.TARGET_WRITTEN_CONCURRENTLY, bucket.where(key) + " was written by another writer while"
                        + " this artifact was published");
            }
            written.add(key);
        }
        committed = true;
        // an attempt killed while uploading one of these files left its upload open
        abortUploads(written::contains);
    }

    /** Deletes the objects this target wrote; never fails. */
    @Override
    public void abort() {
        if (committed || written.isEmpty()) {
            return;
        }
        try {
            bucket.delete(new ArrayList<>(written));
            written.clear();
        } catch (RuntimeException e) {
            LOG.warning(() -> "cannot delete what was written to " + location.uri() + ": " + e.getMessage());
        }
    }

    @Override
    public void close() {
        if (!committed) {
            abort();
        }
    }

    /** Aborts the open multipart uploads under the prefix whose key {@code key} accepts; best effort, never throws. */
    private void abortUploads(Predicate<String> key) {
        try {
            int n = bucket.abortUploads(location.keyPrefix(), key);
            if (n > 0) {
                LOG.info(() -> "aborted " + n + " multipart upload(s) left open under " + location.uri());
            }
        } catch (RuntimeException e) {
            LOG.warning(() -> "cannot abort the multipart uploads left open under " + location.uri() + ": " + e.getMessage());
        }
    }

    private String key(String path) {
        if (path.isEmpty() || path.startsWith("/") || path.endsWith("/") || ("/" + path + "/").contains("/../")
                || ("/" + path + "/").contains("/./") || path.contains("//")) {
            throw new IllegalArgumentException("'" + path + "' is not a path inside the artifact");
        }
        return location.keyPrefix() + path;
    }

    private String relative(String key) {
        return key.substring(location.keyPrefix().length());
    }

    private void requireStaged() {
        if (before == null) {
            throw new IllegalStateException("not staged");
        }
    }
}
