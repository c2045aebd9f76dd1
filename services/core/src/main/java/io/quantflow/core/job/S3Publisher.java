package io.quantflow.core.job;

import io.quantflow.core.cache.ArtifactFiles;
import io.quantflow.core.convert.IfExists;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.convert.Sizes;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.source.S3Storage;
import io.quantflow.core.source.SourceListener;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Writes a local artifact under an S3 prefix: every file as a multipart upload, the manifest(s)
 * last, so that a reader who sees a manifest sees a complete artifact. A prefix that holds objects
 * is refused (TARGET_EXISTS) unless overwriting; then the old manifests go first, the new files
 * replace the old, and objects the new artifact does not have are deleted at the end. An upload
 * that fails deletes what it had uploaded and leaves no manifest.
 */
final class S3Publisher {
    private final S3Storage s3;

    S3Publisher(S3Storage s3) {
        this.s3 = s3;
    }

    /** Fails with TARGET_EXISTS when the prefix holds objects and overwriting was not asked for. */
    void checkTarget(ModelLocation.S3 target, IfExists ifExists) {
        if (target.prefix().isEmpty()) {
            throw QuantflowException.of(Reason.LOCATION_NOT_ALLOWED, target.uri() + ": an S3 target needs a prefix (s3://bucket/prefix)");
        }
        if (ifExists == IfExists.FAIL && !s3.isEmpty(target.bucket(), target.keyPrefix(), true)) {
            throw QuantflowException.of(Reason.TARGET_NOT_EMPTY, target.uri()
                    + " already holds objects; choose another prefix or pass --if-exists overwrite to replace them");
        }
    }

    /**
     * Uploads the artifact in {@code dir}.
     *
     * @param replaced files to upload instead of the artifact's own (relative path to local file): rewritten manifests
     */
    void publish(Path dir, Map<String, Path> replaced, ModelLocation.S3 target, IfExists ifExists, SourceListener listener) {
        checkTarget(target, ifExists);
        String prefix = target.keyPrefix();
        List<String> existing = ifExists == IfExists.OVERWRITE
                ? s3.list(target.bucket(), prefix, false).stream().map(S3Storage.ObjectInfo::key).toList() : List.of();
        List<String> files = ArtifactFiles.list(dir);
        List<String> manifests = files.stream().filter(f -> f.equals(Manifest.FILE_NAME) || f.endsWith("/" + Manifest.FILE_NAME)).toList();
        List<String> data = files.stream().filter(f -> !manifests.contains(f)).toList();
        long bytes = 0;
        for (String f : files) {
            bytes += dir.resolve(f).toFile().length();
        }
        listener.note("uploading " + files.size() + " files (" + Sizes.human(bytes) + ") to " + target.uri());
        Set<String> uploaded = ConcurrentHashMap.newKeySet();
        try {
            List<String> oldManifests = existing.stream().filter(k -> k.endsWith("/" + Manifest.FILE_NAME)).toList();
            if (!oldManifests.isEmpty()) {
                s3.delete(target.bucket(), oldManifests);
            }
            uploadAll(dir, replaced, data, prefix, target.bucket(), uploaded);
            uploadAll(dir, replaced, manifests, prefix, target.bucket(), uploaded);
        } catch (RuntimeException | Error e) {
            try {
                s3.delete(target.bucket(), uploaded);
            } catch (RuntimeException ignored) {
                // the failure that matters is the upload's
            }
            throw e;
        }
        Set<String> keep = new HashSet<>();
        files.forEach(f -> keep.add(prefix + f));
        List<String> stale = existing.stream().filter(k -> !keep.contains(k)).toList();
        if (!stale.isEmpty()) {
            s3.delete(target.bucket(), stale);
        }
    }

    private void uploadAll(Path dir, Map<String, Path> replaced, List<String> files, String prefix, String bucket, Set<String> uploaded) {
        if (files.isEmpty()) {
            return;
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(files.size(), s3.settings().parallel()), r -> {
            Thread t = new Thread(r, "quantflow-upload");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (String f : files) {
                Path local = replaced.getOrDefault(f, dir.resolve(f));
                futures.add(pool.submit(() -> {
                    s3.upload(bucket, prefix + f, local);
                    uploaded.add(prefix + f);
                }));
            }
            RuntimeException first = null;
            for (Future<?> fu : futures) {
                try {
                    fu.get();
                } catch (ExecutionException e) {
                    if (first == null) {
                        first = e.getCause() instanceof RuntimeException r ? r
                                : QuantflowException.of(Reason.WORKER_FAILED, "an upload failed: " + e.getCause(), e.getCause());
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw QuantflowException.of(Reason.INTERRUPTED, "interrupted while uploading", e);
                }
            }
            if (first != null) {
                throw first;
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
