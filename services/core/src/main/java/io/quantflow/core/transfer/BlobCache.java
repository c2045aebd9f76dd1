package io.quantflow.core.transfer;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.util.FileTrees;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Downloaded files kept by content, in the layout of the Hub's own cache, for Hub and S3 sources alike:
 * <pre>
 * DIR/blobs/ID                verified content, named by a hex digest (a sha256, or a git blob id)
 * DIR/blobs/ID.incomplete     a download in progress, resumed by the next try
 * DIR/snapshots/NAME/FILE     a relative symbolic link to ../../blobs/ID (a copy where links are not possible)
 * DIR/FOLDER/NAME             small text records: the Hub's refs/, the S3 source's objects/
 * LOCKS/ID.lock               held while one thread or process downloads into ID
 * </pre>
 * Nothing appears under its final name before it is complete: a blob is renamed into place once
 * verified, a snapshot entry or record is made under a temporary name and renamed, a whole snapshot
 * is made under a hidden name and renamed. Lock files are left in place, as the Hub's cache leaves
 * them: deleting one races another process that has it open.
 */
public final class BlobCache {
    private static final Pattern ID = Pattern.compile("[0-9a-f]{40}|[0-9a-f]{64}");

    private final Path dir;
    private final Path locks;

    /**
     * @param dir   where blobs, snapshots and records go
     * @param locks where lock files go (outside {@code dir}, as in the Hub's layout)
     */
    public BlobCache(Path dir, Path locks) {
        this.dir = dir.toAbsolutePath().normalize();
        this.locks = locks.toAbsolutePath().normalize();
    }

    public Path dir() {
        return dir;
    }

    public Path blob(String id) {
        return dir.resolve("blobs").resolve(checkId(id));
    }

    /** Whether the blob is there, and of {@code size} bytes when the size is known (not negative). */
    public boolean hasBlob(String id, long size) {
        Path blob = blob(id);
        try {
            return Files.isRegularFile(blob) && (size < 0 || Files.size(blob) == size);
        } catch (IOException e) {
            return false;
        }
    }

    /** Where a download into {@code id} accumulates (its folder made): resumed by the next try when interrupted. */
    public Path incomplete(String id) {
        Path p = dir.resolve("blobs").resolve(checkId(id) + ".incomplete");
        try {
            Files.createDirectories(p.getParent());
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot create " + p.getParent(), e);
        }
        return p;
    }

    /** Waits for and takes the lock of {@code id}, against this process's other threads and other processes. */
    public FileLocks.Held lock(String id) {
        return FileLocks.acquire(locks.resolve(checkId(id) + ".lock"));
    }

    /** Moves a verified download into place as blob {@code id}; a blob already there is kept and the download deleted. */
    public void commitBlob(Path verified, String id) {
        Path blob = blob(id);
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

    public Path snapshot(String name) {
        return dir.resolve("snapshots").resolve(checkId(name));
    }

    /** Points {@code snapshots/NAME/file} at blob {@code id}, put in place atomically (the snapshot folder grows entry by entry). */
    public void link(String snapshot, String file, String id) {
        Path snap = snapshot(snapshot);
        Path entry = entry(snap, file);
        try {
            Files.createDirectories(snap);
            Path tmp = snap.resolve("." + file + ".tmp-" + UUID.randomUUID());
            linkOrCopy(tmp, snap, id);
            move(tmp, entry);
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot write " + entry, e);
        }
    }

    /**
     * The snapshot {@code NAME} holding {@code files} (name to blob id), made complete under a hidden
     * name and renamed into place when it does not exist yet; one made meanwhile by another conversion
     * is used as it is.
     */
    public Path snapshot(String name, Map<String, String> files) {
        Path snap = snapshot(name);
        if (Files.isDirectory(snap)) {
            return snap;
        }
        Path partial = snap.resolveSibling("." + snap.getFileName() + ".partial-" + UUID.randomUUID());
        try {
            Files.createDirectories(partial);
            for (Map.Entry<String, String> f : files.entrySet()) {
                linkOrCopy(entry(partial, f.getKey()), snap, f.getValue());
            }
            try {
                Files.move(partial, snap, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileSystemException e) {
                if (!Files.isDirectory(snap)) {
                    throw e;
                }
                // another conversion made the same snapshot meanwhile: use it
            }
            return snap;
        } catch (IOException e) {
            throw QuantflowException.ioFailure("writing the cache at " + dir, e);
        } finally {
            FileTrees.delete(partial);
        }
    }

    /** The record {@code FOLDER/NAME}, or empty when there is none (or it cannot be read). */
    public Optional<String> readRecord(String folder, String name) {
        Path p = record(folder, name);
        try {
            return Files.isRegularFile(p) ? Optional.of(Files.readString(p, StandardCharsets.US_ASCII).strip()) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Writes the record {@code FOLDER/NAME}, atomically replacing an older one. */
    public void writeRecord(String folder, String name, String value) {
        Path p = record(folder, name);
        try {
            Files.createDirectories(p.getParent());
            Path tmp = p.resolveSibling("." + p.getFileName() + ".tmp-" + UUID.randomUUID());
            Files.writeString(tmp, value, StandardCharsets.US_ASCII);
            move(tmp, p);
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot write " + p, e);
        }
    }

    /**
     * The file of record {@code FOLDER/NAME} (a name may have several parts, as a Hub branch
     * {@code refs/pr/1} has); IllegalArgumentException for a name that leaves the folder.
     */
    private Path record(String folder, String name) {
        Path base = dir.resolve(folder);
        Path p = base.resolve(name).normalize();
        if (!p.startsWith(base) || p.equals(base)) {
            throw new IllegalArgumentException("'" + name + "' is not a record name");
        }
        return p;
    }

    /** {@code at} as a link to blob {@code id} relative to the snapshot folder {@code snap}, else a copy of it. */
    private void linkOrCopy(Path at, Path snap, String id) throws IOException {
        Path blob = blob(id);
        try {
            Files.createSymbolicLink(at, snap.relativize(blob));
        } catch (UnsupportedOperationException | FileSystemException e) {
            Files.copy(blob, at, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static Path entry(Path snap, String file) {
        if (file.isEmpty() || file.startsWith(".") || file.indexOf('/') >= 0 || file.indexOf('\\') >= 0) {
            throw new IllegalArgumentException("'" + file + "' is not a snapshot file name");
        }
        return snap.resolve(file);
    }

    private static String checkId(String id) {
        if (id == null || !ID.matcher(id).matches()) {
            throw new IllegalArgumentException("a blob or snapshot id is a sha1 or sha256 in hex, not '" + id + "'");
        }
        return id;
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
