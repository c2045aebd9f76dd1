package io.quantflow.core.source;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.storage.S3Settings;
import io.quantflow.core.storage.S3Storage;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * Turns a source location into a local directory: a local directory is used where it is (and
 * hashed); a Hub model is pinned to a commit and fetched into the Hub cache; an S3 prefix is
 * fetched into the S3 cache. The S3 client is made on first use, so that S3 settings matter only
 * to requests that touch S3.
 */
public final class SourceResolver implements AutoCloseable {
    private final Path cacheRoot;
    private final HubSettings hubSettings;
    private final Supplier<S3Settings> s3Settings;
    private HubFetcher hub;
    private S3Storage s3;

    /**
     * @param cacheRoot  the cache folder: {@code hub/} and {@code s3/} below it hold downloads
     * @param s3Settings asked once, when an S3 location is first met
     */
    public SourceResolver(Path cacheRoot, HubSettings hubSettings, Supplier<S3Settings> s3Settings) {
        this.cacheRoot = cacheRoot.toAbsolutePath().normalize();
        this.hubSettings = hubSettings;
        this.s3Settings = s3Settings;
    }

    public Path cacheRoot() {
        return cacheRoot;
    }

    public ResolvedSource resolve(ModelLocation location, SourceListener listener) {
        return switch (location) {
            case ModelLocation.Local l -> local(l);
            case ModelLocation.Hub h -> {
                HubFetcher.Snapshot snap = hub().fetch(h, listener);
                if (h.revision() == null || !h.revision().equals(snap.commit())) {
                    listener.note(h.uri() + " is commit " + snap.commit());
                }
                yield new ResolvedSource(h, snap.dir(), snap.commit(), ContentHash.ofCommit(snap.commit()));
            }
            case ModelLocation.S3 s -> {
                S3Fetcher.Snapshot snap = new S3Fetcher(s3(), cacheRoot.resolve("s3")).fetch(s, listener);
                yield new ResolvedSource(s, snap.dir(), null, snap.contentHash());
            }
        };
    }

    private static ResolvedSource local(ModelLocation.Local l) {
        Path dir = l.dir();
        if (!Files.exists(dir)) {
            throw QuantflowException.of(Reason.NO_SUCH_DIRECTORY, dir + ": no such directory");
        }
        if (!Files.isDirectory(dir)) {
            throw QuantflowException.of(Reason.NOT_A_DIRECTORY,
                    dir + " is a file; SOURCE is the model directory that holds config.json and the safetensors files");
        }
        return new ResolvedSource(l, dir, null, ContentHash.ofDirectory(dir));
    }

    /** The Hub fetcher (made on first use). */
    /** How this resolver reaches the Hub (endpoint, token): a Hub target of the same request uses the same. */
    public HubSettings hubSettings() {
        return hubSettings;
    }

    public synchronized HubFetcher hub() {
        if (hub == null) {
            hub = new HubFetcher(new HubClient(hubSettings), new HubCache(cacheRoot.resolve("hub")));
        }
        return hub;
    }

    /** The S3 client (made on first use). */
    public synchronized S3Storage s3() {
        if (s3 == null) {
            s3 = S3Storage.open(s3Settings.get());
        }
        return s3;
    }

    @Override
    public synchronized void close() {
        if (s3 != null) {
            s3.close();
            s3 = null;
        }
    }
}
