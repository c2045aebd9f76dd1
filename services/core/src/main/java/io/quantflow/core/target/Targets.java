package io.quantflow.core.target;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.source.HubSettings;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.storage.S3Storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;

/** Targets from locations, and an artifact directory published to a target. */
public final class Targets {
    private Targets() {
    }

    /**
     * The target a location names, not staged: a local directory or an S3 prefix. The Hub is not a
     * target yet (INVALID_REQUEST).
     *
     * @param s3 asked only for an S3 location
     */
    public static Target of(ModelLocation location, IfExists ifExists, Supplier<S3Storage> s3) {
        return of(location, ifExists, s3, null, HubPublishOptions.DEFAULTS, UploadListener.NONE);
    }

    /**
     * The target a location names, not staged: a local directory, an S3 prefix or a Hub repository.
     *
     * @param hub      asked only for a Hub location; null where the Hub is not a target (INVALID_REQUEST)
     * @param listener hears what a remote target uploads
     */
    public static Target of(ModelLocation location, IfExists ifExists, Supplier<S3Storage> s3, Supplier<HubSettings> hub,
                            HubPublishOptions options, UploadListener listener) {
        return switch (location) {
            case ModelLocation.Local l -> LocalTarget.of(l.dir(), ifExists);
            case ModelLocation.S3 s -> new S3Target(s3.get(), s, ifExists);
            case ModelLocation.Hub h when hub != null -> new HubTarget(hub.get(), h, ifExists, options, listener);
            case ModelLocation.Hub h -> throw QuantflowException.of(Reason.LOCATION_NOT_ALLOWED, h.uri()
                    + ": this command does not write to the Hub; give a directory or an s3:// prefix");
        };
    }

    /**
     * Publishes the artifact in {@code dir} to a staged target and commits it: every file that is not a
     * manifest ({@code parallel} at a time), then the manifests.
     *
     * @param replaced manifests to publish instead of the artifact's own (relative path to local file)
     */
    public static void publish(Target target, Path dir, Map<String, Path> replaced, int parallel) {
        List<String> files = ArtifactFiles.list(dir);
        List<String> data = files.stream().filter(f -> !ArtifactFiles.isManifest(f)).toList();
        writeAll(target, dir, data, parallel);
        for (String m : files.stream().filter(ArtifactFiles::isManifest).toList()) {
            Path local = replaced.getOrDefault(m, dir.resolve(m));
            try {
                target.writeManifest(m, Files.readAllBytes(local));
            } catch (IOException e) {
                throw QuantflowException.ioFailure("cannot read " + local, e);
            }
        }
        target.commit();
    }

    private static void writeAll(Target target, Path dir, List<String> files, int parallel) {
        if (files.isEmpty()) {
            return;
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(files.size(), parallel)), r -> {
            Thread t = new Thread(r, "quantflow-upload");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (String f : files) {
                futures.add(pool.submit(() -> target.write(f, dir.resolve(f))));
            }
            RuntimeException first = null;
            for (Future<?> fu : futures) {
                try {
                    fu.get();
                } catch (ExecutionException e) {
                    if (first == null) {
                        first = e.getCause() instanceof RuntimeException r ? r
                                : QuantflowException.of(Reason.WORKER_FAILED, "writing to " + target.uri() + " failed: " + e.getCause(),
                                e.getCause());
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw QuantflowException.of(Reason.INTERRUPTED, "interrupted while writing to " + target.uri(), e);
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
