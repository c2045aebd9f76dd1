package io.quantflow.core.source;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import java.util.UUID;

/**
 * The local copy of Hub files, laid out as the Hub's own cache:
 * <pre>
 * ROOT/models--org--name/blobs/ETAG              verified content (sha256 for LFS files, git blob id otherwise)
 * ROOT/models--org--name/blobs/ETAG.incomplete   a download in progress, resumed by the next try
 * ROOT/models--org--name/refs/REVISION           the commit a branch or tag pointed at when last resolved
 * ROOT/models--org--name/snapshots/COMMIT/FILE   a symbolic link to ../../blobs/ETAG (a copy where links are not possible)
 * ROOT/.locks/models--org--name/ETAG.lock        held while one process downloads that blob
 * </pre>
 * Folder names are in lower case, since the Hub compares ids without case. A blob appears under its
 * name only once verified (renamed into place atomically); a snapshot entry only once its blob is
 * there, so no reader ever sees half a file.
 */
public final class HubCache {
    private final Path root;

    public HubCache(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    public Path root() {
        return root;
    }

    public Path repoDir(RepoId repo) {
        return root.resolve(repo.folderName());
    }

    public Path blob(RepoId repo, String etag) {
        return repoDir(repo).resolve("blobs").resolve(checkEtag(etag));
    }

    Path incomplete(RepoId repo, String etag) {
        return repoDir(repo).resolve("blobs").resolve(checkEtag(etag) + ".incomplete");
    }

    Path lockFile(RepoId repo, String etag) {
        return root.resolve(".locks").resolve(repo.folderName()).resolve(checkEtag(etag) + ".lock");
    }

    public Path snapshot(RepoId repo, String commit) {
        return repoDir(repo).resolve("snapshots").resolve(checkEtag(commit));
    }

    /** The commit a revision pointed at when it was last resolved. */
    public Optional<String> ref(RepoId repo, String revision) {
        Path p = refFile(repo, revision);
        try {
            return Files.isRegularFile(p) ? Optional.of(Files.readString(p, StandardCharsets.US_ASCII).strip()) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Records the commit a revision points at (atomically replacing the old record). */
    void writeRef(RepoId repo, String revision, String commit) {
        Path p = refFile(repo, revision);
        try {
            Files.createDirectories(p.getParent());
            Path tmp = p.resolveSibling("." + p.getFileName() + ".tmp-" + UUID.randomUUID());
            Files.writeString(tmp, commit, StandardCharsets.US_ASCII);
            move(tmp, p);
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot write " + p, e);
        }
    }

    /** Moves a verified download into place as the blob (a blob already there is kept). */
    void commitBlob(Path verified, Path blob) {
        try {
            Files.createDirectories(blob.getParent());
            if (Files.exists(blob)) {
                Files.delete(verified);
            } else {
                move(verified, blob);
            }
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot move a download into " + blob, e);
        }
    }

    /** Points {@code snapshots/COMMIT/name} at the blob: a relative symbolic link, else a copy, put in place atomically. */
    void link(RepoId repo, String commit, String name, String etag) {
        if (!FileSelection.isSafeName(name)) {
            throw QuantflowException.of(Reason.HUB_ANSWER_INVALID, "refusing the file name '" + name + "'");
        }
        Path dir = snapshot(repo, commit);
        Path entry = dir.resolve(name);
        Path blob = blob(repo, etag);
        try {
            Files.createDirectories(dir);
            Path tmp = dir.resolve("." + name + ".tmp-" + UUID.randomUUID());
            try {
                Files.createSymbolicLink(tmp, dir.relativize(blob));
            } catch (UnsupportedOperationException | FileSystemException e) {
                Files.copy(blob, tmp, StandardCopyOption.REPLACE_EXISTING);
            }
            move(tmp, entry);
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot write " + entry, e);
        }
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

    private Path refFile(RepoId repo, String revision) {
        Path refs = repoDir(repo).resolve("refs");
        Path p = refs.resolve(revision).normalize();
        if (!p.startsWith(refs) || p.equals(refs)) {
            throw QuantflowException.of(Reason.LOCATION_INVALID, "'" + revision + "' is not a revision");
        }
        return p;
    }

    private static String checkEtag(String etag) {
        if (etag == null || !etag.matches("[0-9a-f]{40}|[0-9a-f]{64}")) {
            throw QuantflowException.of(Reason.HUB_ANSWER_INVALID, "the Hub gave a content id that is neither a sha256 nor a git object id");
        }
        return etag;
    }

    static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
