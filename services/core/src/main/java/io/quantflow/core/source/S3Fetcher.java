package io.quantflow.core.source;

import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.convert.TargetDirectory;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
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
    private final Path root;

    /** A fetched model: the snapshot folder and the content hash of its files. */
    public record Snapshot(ModelLocation.S3 location, Path dir, List<String> files, String contentHash) {
    }

    public S3Fetcher(S3Storage storage, Path root) {
        this.storage = storage;
        this.root = root.toAbsolutePath().normalize();
    }

    public Snapshot fetch(ModelLocation.S3 location, SourceListener listener) {
        String uri = location.uri();
        Map<String, S3Storage.ObjectInfo> top = new LinkedHashMap<>();
        for (S3Storage.ObjectInfo o : storage.list(location.bucket(), location.keyPrefix(), true)) {
            String name = o.key().substring(location.keyPrefix().length());
            if (FileSelection.isSafeName(name)) {
                top.put(name, o);
            }
        }
        if (top.isEmpty()) {
            throw QuantflowException.of(Reason.LOCATION_EMPTY, uri + " holds no objects"
                    + (storage.hasSubfolders(location.bucket(), location.keyPrefix())
                    ? " at its top level; name the prefix that holds the model's config.json and weights" : ""));
        }
        Map<String, String> sha256 = new ConcurrentHashMap<>();
        List<String> metadata = FileSelection.metadata(top.keySet(), uri);
        fetchAll(location, metadata, top, sha256, listener, false);
        Path index = metadata.contains(Checkpoint.INDEX_FILE) ? blob(sha256.get(Checkpoint.INDEX_FILE)) : null;
        List<String> weights = FileSelection.weights(top.keySet(), index, uri);
        fetchAll(location, weights, top, sha256, listener, true);

        List<String> files = new ArrayList<>(metadata);
        files.addAll(weights);
        List<ContentHash.FileDigest> digests = files.stream()
                .map(n -> new ContentHash.FileDigest(n, top.get(n).size(), sha256.get(n))).toList();
        Path dir = snapshot(location, files, top, sha256);
        return new Snapshot(location, dir, List.copyOf(files), ContentHash.of(digests));
    }

    private void fetchAll(ModelLocation.S3 location, List<String> names, Map<String, S3Storage.ObjectInfo> top,
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
            tasks.add(() -> sha256.put(n, fetchObject(location, top.get(n), listener, batch)));
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
    private String fetchObject(ModelLocation.S3 location, S3Storage.ObjectInfo o, SourceListener listener, ParallelDownloads batch) {
        String id = objectId(location.bucket(), o);
        try (FileLocks.Held ignored = FileLocks.acquire(root.resolve(".locks").resolve(id + ".lock"))) {
            String known = knownSha256(location.bucket(), o);
            if (known != null) {
                return known;
            }
            Path partial = root.resolve("blobs").resolve(id + ".incomplete");
            Files.createDirectories(partial.getParent());
            ResumableDownload download = new ResumableDownload(storage.settings().backoff(), storage.settings().stallTimeout(),
                    batch::cancelled);
            String what = "s3://" + location.bucket() + "/" + o.key();
            String sha = download.fetch(partial, o.size(), offset -> storage.open(location.bucket(), o.key(), o.etag(), offset),
                    what, listener::downloaded);
            Path blob = blob(sha);
            if (Files.exists(blob)) {
                Files.delete(partial);
            } else {
                HubCache.move(partial, blob);
            }
            Path record = root.resolve("objects").resolve(id);
            Files.createDirectories(record.getParent());
            Path tmp = record.resolveSibling("." + id + ".tmp-" + UUID.randomUUID());
            Files.writeString(tmp, sha, StandardCharsets.US_ASCII);
            HubCache.move(tmp, record);
            return sha;
        } catch (IOException e) {
            throw QuantflowException.ioFailure("writing the S3 cache at " + root, e);
        }
    }

    /** The sha256 of an object already in the cache, or null. */
    private String knownSha256(String bucket, S3Storage.ObjectInfo o) {
        Path record = root.resolve("objects").resolve(objectId(bucket, o));
        try {
            if (!Files.isRegularFile(record)) {
                return null;
            }
            String sha = Files.readString(record, StandardCharsets.US_ASCII).strip();
            Path blob = sha.matches("[0-9a-f]{64}") ? blob(sha) : null;
            return blob != null && Files.isRegularFile(blob) && Files.size(blob) == o.size() ? sha : null;
        } catch (IOException e) {
            return null;
        }
    }

    private Path blob(String sha256) {
        return root.resolve("blobs").resolve(sha256);
    }

    /** The snapshot folder of these files, made (complete, then renamed into place) when missing. */
    private Path snapshot(ModelLocation.S3 location, List<String> files, Map<String, S3Storage.ObjectInfo> top,
                          Map<String, String> sha256) {
        StringBuilder id = new StringBuilder(endpoint()).append('\n').append(location.bucket()).append('\n').append(location.prefix());
        files.stream().sorted().forEach(n -> id.append('\n').append(n).append('\0').append(top.get(n).size()).append('\0')
                .append(sha256.get(n)));
        Path dir = root.resolve("snapshots").resolve(hash(id.toString()));
        if (Files.isDirectory(dir)) {
            return dir;
        }
        Path partial = dir.resolveSibling("." + dir.getFileName() + ".partial-" + UUID.randomUUID());
        try {
            Files.createDirectories(partial);
            for (String n : files) {
                Path entry = partial.resolve(n);
                Path blob = blob(sha256.get(n));
                try {
                    Files.createSymbolicLink(entry, dir.relativize(blob));
                } catch (UnsupportedOperationException | FileSystemException e) {
                    Files.copy(blob, entry, StandardCopyOption.REPLACE_EXISTING);
                }
            }
            try {
                Files.move(partial, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileSystemException e) {
                if (!Files.isDirectory(dir)) {
                    throw e;
                }
                // another conversion made the same snapshot meanwhile: use it
            }
            return dir;
        } catch (IOException e) {
            throw QuantflowException.ioFailure("writing the S3 cache at " + root, e);
        } finally {
            TargetDirectory.deleteTree(partial);
        }
    }

    private String endpoint() {
        return storage.settings().endpoint() == null ? "aws:" + storage.settings().region() : storage.settings().endpoint().toString();
    }

    private String objectId(String bucket, S3Storage.ObjectInfo o) {
        return hash(endpoint() + "\n" + bucket + "\n" + o.key() + "\n" + o.etag() + "\n" + o.size());
    }

    private static String hash(String s) {
        return HexFormat.of().formatHex(ResumableDownload.sha256().digest(s.getBytes(StandardCharsets.UTF_8)));
    }
}
