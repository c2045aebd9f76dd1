package io.quantflow.core.source;

import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.transfer.FileLocks;
import io.quantflow.core.transfer.ParallelDownloads;
import io.quantflow.core.transfer.ResumableDownload;
import io.quantflow.core.util.Digests;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Brings a Hub model into the local cache: resolves the revision to a commit and pins every file
 * to it, selects the files a conversion needs ({@link FileSelection}), downloads the missing ones
 * in parallel (resuming partial downloads) and verifies each against the Hub's metadata: an LFS
 * file's sha256, a git file's blob id. Returns the snapshot folder, a model directory.
 */
public final class HubFetcher {
    private final HubClient client;
    private final HubCache cache;

    /**
     * A fetched model.
     *
     * @param dir   {@code snapshots/COMMIT}: the selected files, complete and verified
     * @param files the selected files' names
     */
    public record Snapshot(ModelLocation.Hub location, String commit, Path dir, List<String> files) {
    }

    public HubFetcher(HubClient client, HubCache cache) {
        this.client = client;
        this.cache = cache;
    }

    public HubCache cache() {
        return cache;
    }

    /** Resolves the revision and fetches what a conversion reads. */
    public Snapshot fetch(ModelLocation.Hub location, SourceListener listener) {
        return fetch(location, listener, true);
    }

    /** Resolves the revision and fetches config, tokenizer and index files only (to look before fetching weights). */
    public Snapshot fetchMetadata(ModelLocation.Hub location, SourceListener listener) {
        return fetch(location, listener, false);
    }

    private Snapshot fetch(ModelLocation.Hub location, SourceListener listener, boolean withWeights) {
        HubRepoInfo info = client.repoInfo(location);
        String commit = info.commit();
        RepoId repo = location.repo();
        if (!commit.equals(location.revisionOrDefault())) {
            cache.writeRef(repo, location.revisionOrDefault(), commit);
        }
        Map<String, HubRepoInfo.HubFile> top = new LinkedHashMap<>();
        info.files().forEach((name, f) -> {
            if (FileSelection.isSafeName(name)) {
                top.put(name, f);
            }
        });
        String uri = "hf://" + repo.id() + "@" + commit;
        List<String> metadata = FileSelection.metadata(top.keySet(), location.uri());
        download(location, commit, metadata.stream().map(top::get).toList(), listener, false);
        Path dir = cache.snapshot(repo, commit);
        if (!withWeights) {
            return new Snapshot(location, commit, dir, metadata);
        }
        Path index = metadata.contains(Checkpoint.INDEX_FILE) ? dir.resolve(Checkpoint.INDEX_FILE) : null;
        List<String> weights = FileSelection.weights(top.keySet(), index, uri);
        download(location, commit, weights.stream().map(top::get).toList(), listener, true);
        List<String> all = new ArrayList<>(metadata);
        all.addAll(weights);
        return new Snapshot(location, commit, dir, List.copyOf(all));
    }

    private void download(ModelLocation.Hub location, String commit, List<HubRepoInfo.HubFile> files,
                          SourceListener listener, boolean announce) {
        List<HubRepoInfo.HubFile> missing = files.stream()
                .filter(f -> !cache.has(location.repo(), commit, f.name(), f.size())).toList();
        if (missing.isEmpty()) {
            return;
        }
        if (announce) {
            long bytes = missing.stream().mapToLong(f -> Math.max(0, f.size())).sum();
            listener.downloadStarted("hf://" + location.repo().id() + "@" + commit.substring(0, 12), bytes);
        }
        ParallelDownloads batch = new ParallelDownloads(client.settings().parallel());
        List<Runnable> tasks = new ArrayList<>();
        for (HubRepoInfo.HubFile f : missing) {
            tasks.add(() -> fetchFile(location, commit, f, listener, batch));
        }
        try {
            batch.run(tasks);
        } finally {
            if (announce) {
                listener.downloadFinished();
            }
        }
    }

    @SuppressWarnings("try") // the lock is held for the block, not used in it
    private void fetchFile(ModelLocation.Hub location, String commit, HubRepoInfo.HubFile listed, SourceListener listener,
                           ParallelDownloads batch) {
        RepoId repo = location.repo();
        String what = "hf://" + repo.id() + "@" + commit + "/" + listed.name();
        HubRepoInfo.HubFile f = listed.sha256() != null || listed.gitBlobId() != null ? listed : withHeadMetadata(location, commit, listed);
        if (f.sha256() == null && f.gitBlobId() == null) {
            throw QuantflowException.of(Reason.DOWNLOAD_UNVERIFIABLE, what + " cannot be verified: the Hub gave neither its sha256 nor its git blob id");
        }
        String etag = f.lfs() ? f.sha256() : f.gitBlobId();
        Path blob = cache.blob(repo, etag);
        if (!Files.isRegularFile(blob)) {
            try (FileLocks.Held ignored = cache.lock(repo, etag)) {
                if (!Files.isRegularFile(blob)) {
                    Path partial = cache.incomplete(repo, etag);
                    ResumableDownload download = new ResumableDownload(client.settings().backoff(),
                            client.settings().stallTimeout(), batch::cancelled);
                    String sha256 = download.fetch(partial, f.size(),
                            offset -> client.open(location, commit, f.name(), offset, meta -> checkMeta(meta, f, commit, what)),
                            what, listener::downloaded);
                    verify(partial, f, sha256, what);
                    cache.commitBlob(repo, partial, etag);
                }
            }
        }
        cache.link(repo, commit, f.name(), etag);
    }

    /** The Hub's answer for the file must agree with the listing: same commit, same sha256. */
    private static void checkMeta(HubClient.FileMeta meta, HubRepoInfo.HubFile f, String commit, String what) {
        if (meta.commit() != null && !meta.commit().equalsIgnoreCase(commit)) {
            throw QuantflowException.of(Reason.SOURCE_CHANGED, what + ": the Hub answered from commit " + meta.commit() + ", not the pinned one");
        }
        if (f.lfs() && meta.linkedEtag() != null && HubRepoInfo.SHA256.matcher(meta.linkedEtag()).matches()
                && !meta.linkedEtag().equals(f.sha256())) {
            throw QuantflowException.of(Reason.DOWNLOAD_CORRUPT, what + ": the Hub's file metadata (sha256 " + meta.linkedEtag()
                    + ") disagrees with its file list (" + f.sha256() + ")");
        }
    }

    /** The listing said nothing to verify the file with: ask the Hub's file metadata (HEAD). */
    private HubRepoInfo.HubFile withHeadMetadata(ModelLocation.Hub location, String commit, HubRepoInfo.HubFile f) {
        HubClient.FileMeta meta = client.head(location, commit, f.name());
        String sha256 = meta.linkedEtag() != null && HubRepoInfo.SHA256.matcher(meta.linkedEtag()).matches() ? meta.linkedEtag() : null;
        String blob = sha256 == null && meta.etag() != null && HubRepoInfo.COMMIT.matcher(meta.etag()).matches() ? meta.etag() : null;
        return new HubRepoInfo.HubFile(f.name(), f.size() >= 0 ? f.size() : meta.size(), sha256, blob);
    }

    /** Compares the download with the Hub's hash; a mismatch deletes it and fails. */
    private static void verify(Path partial, HubRepoInfo.HubFile f, String sha256, String what) {
        String expected = f.lfs() ? f.sha256() : f.gitBlobId();
        String actual = f.lfs() ? sha256 : gitBlobId(partial);
        if (!expected.equals(actual)) {
            try {
                Files.deleteIfExists(partial);
            } catch (IOException e) {
                throw QuantflowException.ioFailure("cannot delete the corrupt download " + partial, e);
            }
            throw QuantflowException.of(Reason.DOWNLOAD_CORRUPT, what + " failed verification: its " + (f.lfs() ? "sha256" : "git blob id")
                    + " is " + actual + ", the Hub says " + expected + "; the download was discarded");
        }
    }

    /** The git blob id of a file: sha1 of {@code "blob <size>\0"} and the content. */
    static String gitBlobId(Path p) {
        try {
            return Digests.gitBlobId(p);
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot read " + p, e);
        }
    }
}
