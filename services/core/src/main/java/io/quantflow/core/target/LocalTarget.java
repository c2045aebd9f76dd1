package io.quantflow.core.target;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.util.FileTrees;
import io.quantflow.core.util.Sizes;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/**
 * A local directory, written beside itself under a hidden staging name ({@code .NAME.partial-XXXXXXXX})
 * and renamed into place only when complete, so that a reader never sees half an artifact and a failed
 * or interrupted conversion leaves nothing at the target (a shutdown hook deletes the staging directory
 * when the JVM exits first). An existing non-empty directory is refused unless overwriting; then it is
 * moved aside and replaced only once the new output is complete.
 *
 * <p>Files may also be written straight into {@link #staging()}: the converter streams its shards there.
 */
public final class LocalTarget implements Target {
    private final Path dir;
    private final IfExists ifExists;
    private final Map<String, byte[]> manifests = new LinkedHashMap<>();
    private Path staging;
    private Thread cleanupOnExit;
    private boolean committed;

    private LocalTarget(Path dir, IfExists ifExists) {
        this.dir = dir.toAbsolutePath().normalize();
        this.ifExists = ifExists;
    }

    /** The target, not staged yet. */
    public static LocalTarget of(Path dir, IfExists ifExists) {
        return new LocalTarget(dir, ifExists);
    }

    /** The target, checked and staged: the staging directory exists beside it. */
    public static LocalTarget prepare(Path dir, IfExists ifExists) {
        LocalTarget t = new LocalTarget(dir, ifExists);
        t.stage();
        return t;
    }

    /** Fails with TARGET_EXISTS when {@code dir} is a file, or holds anything and overwriting was not asked for. */
    public static void check(Path dir, IfExists ifExists) {
        if (!Files.exists(dir)) {
            return;
        }
        if (!Files.isDirectory(dir)) {
            throw QuantflowException.of(Reason.TARGET_NOT_A_DIRECTORY, dir + " exists and is not a directory");
        }
        if (ifExists == IfExists.FAIL && !isEmpty(dir)) {
            throw QuantflowException.of(Reason.TARGET_NOT_EMPTY, dir
                    + " already holds files; choose another --out or pass --if-exists overwrite to replace it");
        }
    }

    @Override
    public String uri() {
        return dir.toString();
    }

    @Override
    public IfExists ifExists() {
        return ifExists;
    }

    /** The directory the artifact ends up in. */
    public Path dir() {
        return dir;
    }

    @Override
    public void check() {
        check(dir, ifExists);
    }

    /** Checks the target and creates the staging directory beside it. */
    @Override
    public void stage() {
        if (staging != null) {
            throw new IllegalStateException("staged already");
        }
        check();
        Path parent = dir.getParent();
        if (parent == null) {
            throw QuantflowException.of(Reason.TARGET_INVALID, "the target cannot be the root directory");
        }
        try {
            Files.createDirectories(parent);
            Path s = parent.resolve("." + dir.getFileName() + ".partial-" + UUID.randomUUID().toString().substring(0, 8));
            Files.createDirectory(s);
            staging = s;
        } catch (AccessDeniedException e) {
            throw QuantflowException.of(Reason.PERMISSION_DENIED, "cannot write in " + parent + ": permission denied");
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot create the output beside " + dir, e);
        }
        cleanupOnExit = new Thread(this::deleteStaging, "quantflow-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanupOnExit);
    }

    /** Where the artifact is written until {@link #commit()} (files may be written there directly). */
    public Path staging() {
        if (staging == null) {
            throw new IllegalStateException("not staged");
        }
        return staging;
    }

    /** Fails with NO_SPACE unless the target's file system has room for {@code bytes} more. */
    public void requireSpace(long bytes) {
        try {
            FileStore store = Files.getFileStore(staging());
            long usable = store.getUsableSpace();
            long needed = bytes + bytes / 100 + (1 << 20);
            if (usable < needed) {
                throw QuantflowException.of(Reason.INSUFFICIENT_SPACE, "the output needs " + Sizes.human(needed)
                        + " but only " + Sizes.human(usable) + " is free at " + dir.getParent());
            }
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot read the free space at " + dir.getParent(), e);
        }
    }

    /** Puts the file into the staging directory: a hard link where the file system allows, else a copy. */
    @Override
    public void write(String path, Path file) {
        Path to = resolve(path);
        try {
            ArtifactFiles.linkOrCopy(file, to);
        } catch (IOException e) {
            throw QuantflowException.ioFailure("writing " + to, e);
        }
    }

    @Override
    public void writeManifest(String path, byte[] json) {
        resolve(path);
        manifests.put(path, json.clone());
    }

    /** Writes the manifests handed over into the staging directory, then moves it into place (replacing the old target when overwriting). */
    @Override
    public void commit() {
        Path s = staging();
        try {
            for (Map.Entry<String, byte[]> m : manifests.entrySet()) {
                Path p = resolve(m.getKey());
                Files.createDirectories(p.getParent());
                Files.write(p, m.getValue());
            }
            Path old = null;
            if (Files.exists(dir)) {
                check();
                old = dir.resolveSibling("." + dir.getFileName() + ".old-" + UUID.randomUUID().toString().substring(0, 8));
                Files.move(dir, old, StandardCopyOption.ATOMIC_MOVE);
            }
            try {
                Files.move(s, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(s, dir);
            }
            committed = true;
            if (old != null) {
                FileTrees.delete(old);
            }
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot move the output into " + dir, e);
        }
    }

    @Override
    public void abort() {
        deleteStaging();
    }

    @Override
    public void close() {
        if (!committed) {
            deleteStaging();
        }
        if (cleanupOnExit != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(cleanupOnExit);
            } catch (IllegalStateException e) {
                // the JVM is already shutting down; the hook deletes the staging directory
            }
        }
    }

    private void deleteStaging() {
        if (!committed && staging != null) {
            FileTrees.delete(staging);
        }
    }

    /** A relative path inside the staging directory; anything that would leave it is refused. */
    private Path resolve(String path) {
        Path s = staging();
        Path p = s.resolve(path).normalize();
        if (path.isEmpty() || path.startsWith("/") || !p.startsWith(s) || p.equals(s)) {
            throw new IllegalArgumentException("'" + path + "' is not a path inside the artifact");
        }
        return p;
    }

    private static boolean isEmpty(Path dir) {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            return !s.iterator().hasNext();
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot read " + dir, e);
        }
    }
}
