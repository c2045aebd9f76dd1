package io.quantflow.core.convert;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * The output directory, written beside the target under a hidden staging name and renamed into place
 * only when complete, so that a reader never sees half an artifact and a failed or interrupted
 * conversion leaves nothing at the target. An existing non-empty target is refused unless the
 * request says overwrite; then it is replaced only after the new output is complete.
 */
public final class TargetDirectory implements AutoCloseable {
    private final Path target;
    private final Path staging;
    private final IfExists ifExists;
    private final Thread cleanupOnExit;
    private boolean committed;

    private TargetDirectory(Path target, Path staging, IfExists ifExists) {
        this.target = target;
        this.staging = staging;
        this.ifExists = ifExists;
        this.cleanupOnExit = new Thread(this::deleteStaging, "quantflow-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanupOnExit);
    }

    /** Checks the target and creates the staging directory beside it. */
    public static TargetDirectory prepare(Path target, IfExists ifExists) {
        Path abs = target.toAbsolutePath().normalize();
        checkTarget(abs, ifExists);
        Path parent = abs.getParent();
        if (parent == null) {
            throw QuantflowException.of(Reason.TARGET_INVALID, "the target cannot be the root directory");
        }
        try {
            Files.createDirectories(parent);
            Path staging = parent.resolve("." + abs.getFileName() + ".partial-" + UUID.randomUUID().toString().substring(0, 8));
            Files.createDirectory(staging);
            return new TargetDirectory(abs, staging, ifExists);
        } catch (AccessDeniedException e) {
            throw QuantflowException.of(Reason.PERMISSION_DENIED, "cannot write in " + parent + ": permission denied");
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot create the output beside " + abs, e);
        }
    }

    /** Fails with TARGET_EXISTS when the target holds anything and overwriting was not asked for. */
    public static void checkTarget(Path target, IfExists ifExists) {
        if (!Files.exists(target)) {
            return;
        }
        if (!Files.isDirectory(target)) {
            throw QuantflowException.of(Reason.TARGET_NOT_A_DIRECTORY, target + " exists and is not a directory");
        }
        if (ifExists == IfExists.FAIL && !isEmpty(target)) {
            throw QuantflowException.of(Reason.TARGET_NOT_EMPTY, target
                    + " already holds files; choose another --out or pass --if-exists overwrite to replace it");
        }
    }

    private static boolean isEmpty(Path dir) {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            return !s.iterator().hasNext();
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot read " + dir, e);
        }
    }

    public Path staging() {
        return staging;
    }

    public Path target() {
        return target;
    }

    /** Fails with NO_SPACE unless the target's file system has room for {@code bytes} more. */
    public void requireSpace(long bytes) {
        try {
            FileStore store = Files.getFileStore(staging);
            long usable = store.getUsableSpace();
            long needed = bytes + bytes / 100 + (1 << 20);
            if (usable < needed) {
                throw QuantflowException.of(Reason.INSUFFICIENT_SPACE, "the output needs " + Sizes.human(needed)
                        + " but only " + Sizes.human(usable) + " is free at " + target.getParent());
            }
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot read the free space at " + target.getParent(), e);
        }
    }

    /** Moves the complete output into place (replacing the old target when overwriting). */
    public void commit() {
        try {
            Path old = null;
            if (Files.exists(target)) {
                checkTarget(target, ifExists);
                old = target.resolveSibling("." + target.getFileName() + ".old-" + UUID.randomUUID().toString().substring(0, 8));
                Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
            }
            try {
                Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(staging, target);
            }
            committed = true;
            if (old != null) {
                deleteTree(old);
            }
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot move the output into " + target, e);
        }
    }

    @Override
    public void close() {
        if (!committed) {
            deleteStaging();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(cleanupOnExit);
        } catch (IllegalStateException e) {
            // the JVM is already shutting down; the hook deletes the staging directory
        }
    }

    private void deleteStaging() {
        if (!committed) {
            deleteTree(staging);
        }
    }

    /** Deletes a directory tree as far as it can: what is left is hidden and named as a leftover. */
    public static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort: a leftover staging file is hidden and named .partial
                }
            });
        } catch (IOException ignored) {
            // best effort, as above
        }
    }
}
