package io.quantflow.core.source;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.transfer.BlobCache;
import io.quantflow.core.transfer.FileLocks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The local copy of Hub files, laid out as the Hub's own cache, one {@link BlobCache} per repository:
 * <pre>
 * ROOT/models--org--name/blobs/ETAG              verified content (sha256 for LFS files, git blob id otherwise)
 * ROOT/models--org--name/blobs/ETAG.incomplete   a download in progress, resumed by the next try
 * ROOT/models--org--name/refs/REVISION           the commit a branch or tag pointed at when last resolved
 * ROOT/models--org--name/snapshots/COMMIT/FILE   a symbolic link to ../../blobs/ETAG (a copy where links are not possible)
 * ROOT/.locks/models--org--name/ETAG.lock        held while one process downloads that blob
 * </pre>
 * Folder names are in lower case, since the Hub compares ids without case. What the Hub gives as
 * content ids and commits is checked before it names a file.
 */
public final class HubCache {
    private final Path root;

    public HubCache(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    public Path root() {
        return root;
    }

    /** The blob cache of one repository. */
    BlobCache of(RepoId repo) {
        return new BlobCache(repoDir(repo), root.resolve(".locks").resolve(repo.folderName()));
    }

    public Path repoDir(RepoId repo) {
        return root.resolve(repo.folderName());
    }

    public Path blob(RepoId repo, String etag) {
        return of(repo).blob(checkEtag(etag));
    }

    Path incomplete(RepoId repo, String etag) {
        return of(repo).incomplete(checkEtag(etag));
    }

    FileLocks.Held lock(RepoId repo, String etag) {
        return of(repo).lock(checkEtag(etag));
    }

    public Path snapshot(RepoId repo, String commit) {
        return of(repo).snapshot(checkEtag(commit));
    }

    /** The commit a revision pointed at when it was last resolved. */
    public Optional<String> ref(RepoId repo, String revision) {
        return of(repo).readRecord("refs", checkRevision(revision));
    }

    /** Records the commit a revision points at (atomically replacing the old record). */
    void writeRef(RepoId repo, String revision, String commit) {
        of(repo).writeRecord("refs", checkRevision(revision), commit);
    }

    /** Moves a verified download into place as the blob (a blob already there is kept). */
    void commitBlob(RepoId repo, Path verified, String etag) {
        of(repo).commitBlob(verified, checkEtag(etag));
    }

    /** Points {@code snapshots/COMMIT/name} at the blob: a relative symbolic link, else a copy, put in place atomically. */
    void link(RepoId repo, String commit, String name, String etag) {
        if (!FileSelection.isSafeName(name)) {
            throw QuantflowException.of(Reason.HUB_ANSWER_INVALID, "refusing the file name '" + name + "'");
        }
        of(repo).link(checkEtag(commit), name, checkEtag(etag));
    }

    /** Whether the snapshot holds the file (its blob present, and of the given size when that is known). */
    boolean has(RepoId repo, String commit, String name, long size) {
        Path entry = snapshot(repo, commit).resolve(name);
        try {
            return Files.isRegularFile(entry) && (size < 0 || Files.size(entry) == size);
        } catch (IOException e) {
            return false;
        }
    }

    private static String checkRevision(String revision) {
        Path refs = Path.of("refs");
        Path p = refs.resolve(revision).normalize();
        if (revision.isEmpty() || !p.startsWith(refs) || p.equals(refs)) {
            throw QuantflowException.of(Reason.LOCATION_INVALID, "'" + revision + "' is not a revision");
        }
        return revision;
    }

    private static String checkEtag(String etag) {
        if (etag == null || !etag.matches("[0-9a-f]{40}|[0-9a-f]{64}")) {
            throw QuantflowException.of(Reason.HUB_ANSWER_INVALID, "the Hub gave a content id that is neither a sha256 nor a git object id");
        }
        return etag;
    }
}
