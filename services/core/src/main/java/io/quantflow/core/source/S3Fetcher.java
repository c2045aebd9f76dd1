package io.quantflow.core.source;

import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.storage.ObjectInfo;
import io.quantflow.core.storage.Role;
import io.quantflow.core.storage.S3Bucket;
import io.quantflow.core.storage.S3Storage;
import io.quantflow.core.transfer.BlobCache;
import io.quantflow.core.transfer.FileLocks;
import io.quantflow.core.transfer.ParallelDownloads;
import io.quantflow.core.transfer.ResumableDownload;
import io.quantflow.core.util.Digests;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Brings a model stored under an S3 prefix into the local cache, the same files a Hub model would
 * give ({@link FileSelection}), each fetched with ranged GETs pinned to the object's ETag (a
 * broken transfer resumes where it stopped) and its size verified:
 * <pre>
 * ROOT/objects/ID        the sha256 of an object's content (ID: a hash of endpoint, bucket, key, ETag and size)
 * ROOT/blobs/SHA256      verified content; ROOT/blobs/ID.incomplete while it downloads
 * ROOT/snapshots/SNAP/   the model's files as links to the blobs (SNAP: a hash of the listing), renamed into
 *                        place complete
 * </pre>
 */
public final class S3Fetcher {
    private final S3Storage storage;
    private final BlobCache cache;

    /** A fetched model: the snapshot folder and the content hash of its files. */
    public record Snapshot(ModelLocation.S3 location, Path dir, List<String> files, String contentHash) {
    }

    public S3Fetcher(S3Storage storage, Path root) {
        this.storage = storage;
        Path dir = root.toAbsolutePath().normalize();
        this.cache = new BlobCache(dir, dir.resolve(".locks"));
    }

    public Snapshot fetch(ModelLocation.S3 location, SourceListener listener) {
        String uri = location.uri();
        S3Bucket bucket = storage.bucket(Role.SOURCE, location.bucket());
        Map<String, ObjectInfo> top = new LinkedHashMap<>();
        for (ObjectInfo o : bucket.listTop(location.keyPrefix())) {
            String name = o.key().substring(location.keyPrefix().length());
            if (FileSelection.isSafeName(name)) {
                top.put(name, o);
            }
        }
        if (top.isEmpty()) {
            throw QuantflowException.of(Reason.LOCATION_EMPTY, uri + " holds no objects"
                    + (bucket.hasSubfolders(location.keyPrefix())
                    ? " at its top level; name the prefix that holds the model's config.json and weights" : ""));
        }
        Map<String, String> sha256 = new ConcurrentHashMap<>();
        List<String> metadata = FileSelection.metadata(top.keySet(), uri);
        fetchAll(location, bucket, metadata, top, sha256, listener, false);
        Path index = metadata.contains(Checkpoint.INDEX_FILE) ? cache.blob(sha256.get(Checkpoint.INDEX_FILE)) : null;
        List<String> weights = FileSelection.weights(top.keySet(), index, uri);
        fetchAll(location, bucket, weights, top, sha256, listener, true);

        List<String> files = new ArrayList<>(metadata);
        files.addAll(weights);
        List<ContentHash.FileDigest> digests = files.stream()
                .map(n -> new ContentHash.FileDigest(n, top.get(n).size(), sha256.get(n))).toList();
        Path dir = snapshot(location, files, top, sha256);
        return new Snapshot(location, dir, List.copyOf(files), ContentHash.of(digests));
    }

    private void fetchAll(ModelLocation.S3 location, S3Bucket bucket, List<String> names, Map<String, ObjectInfo> top,
                          Map<String, String> sha256, SourceListener listener, boolean announce) {
        List<String> missing = new ArrayList<>();
        for (String n : names) {
            String known = knownSha256(location.bucket(), top.get(n));
            if (known != null) {
                sha256.put(n, known);
            } else {
                missing.add(n);
            }
        }
        if (missing.isEmpty()) {
            return;
        }
        if (announce) {
            listener.downloadStarted(location.uri(), missing.stream().mapToLong(n -> top.get(n).size()).sum());
        }
        ParallelDownloads batch = new ParallelDownloads(storage.settings().parallel());
        List<Runnable> tasks = new ArrayList<>();
        for (String n : missing) {
            tasks.add(() -> sha256.put(n, fetchObject(bucket, top.get(n), listener, batch)));
        }
        try {
            batch.run(tasks);
        } finally {
            if (announce) {
                listener.downloadFinished();
            }
        }
    }

    /** Downloads one object into blobs/ unless it is there; returns its sha256. */
    @SuppressWarnings("try") // the lock is held for the block, not used in it
    private String fetchObject(S3Bucket bucket, ObjectInfo o, SourceListener listener, ParallelDownloads batch) {
        String id = objectId(bucket.name(), o);
        try (FileLocks.Held ignored = cache.lock(id)) {
            String known = knownSha256(bucket.name(), o);
            if (known != null) {
                return known;
            }
            Path partial = cache.incomplete(id);
            ResumableDownload download = new ResumableDownload(storage.settings().backoff(), storage.settings().stallTimeout(),
                    batch::cancelled);
            String sha = download.fetch(partial, o.size(), offset -> bucket.open(o.key(), o.etag(), offset),
                    bucket.where(o.key()), listener::downloaded);
            cache.commitBlob(partial, sha);
            cache.writeRecord("objects", id, sha);
            return sha;
        }
    }

    /** The sha256 of an object already in the cache, or null. */
    private String knownSha256(String bucket, ObjectInfo o) {
        String sha = cache.readRecord("objects", objectId(bucket, o)).orElse(null);
        return sha != null && sha.matches("[0-9a-f]{64}") && cache.hasBlob(sha, o.size()) ? sha : null;
    }

    /** The snapshot folder of these files, made (complete, then renamed into place) when missing. */
    private Path snapshot(ModelLocation.S3 location, List<String> files, Map<String, ObjectInfo> top, Map<String, String> sha256) {
        StringBuilder id = new StringBuilder(endpoint()).append('\n').append(location.bucket()).append('\n').append(location.prefix());
        files.stream().sorted().forEach(n -> id.append('\n').append(n).append('\0').append(top.get(n).size()).append('\0')
                .append(sha256.get(n)));
        Map<String, String> blobs = new LinkedHashMap<>();
        files.forEach(n -> blobs.put(n, sha256.get(n)));
        return cache.snapshot(Digests.sha256(id.toString()), blobs);
    }

    private String endpoint() {
        return storage.settings().endpoint() == null ? "aws:" + storage.settings().region() : storage.settings().endpoint().toString();
    }

    private String objectId(String bucket, ObjectInfo o) {
        return Digests.sha256(endpoint() + "\n" + bucket + "\n" + o.key() + "\n" + o.etag() + "\n" + o.size());
    }
}
