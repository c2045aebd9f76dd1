package io.quantflow.core.cache;

import io.quantflow.core.convert.Manifest;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.target.ArtifactFiles;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.target.LocalTarget;
import io.quantflow.core.util.Digests;
import io.quantflow.core.util.FileTrees;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Completed conversions kept by their {@link CacheKey}: {@code ROOT/KEY/} holds an artifact as a
 * conversion wrote it, manifest(s) included. An entry is written beside its place and renamed in
 * when complete; it is trusted only after every file checks against its manifest (size and
 * sha256), and an entry that does not is removed.
 */
public final class ConversionCache {
    private final Path root;

    public ConversionCache(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    public Path root() {
        return root;
    }

    /** Where the entry for a key lives (whether or not it exists). */
    public Path entry(String key) {
        if (!key.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException("not a cache key");
        }
        return root.resolve(key);
    }

    /** The complete, verified entry for the key, if there is one. */
    public Optional<Path> lookup(String key) {
        Path entry = entry(key);
        if (!Files.isDirectory(entry)) {
            return Optional.empty();
        }
        if (verify(entry)) {
            return Optional.of(entry);
        }
        remove(entry);
        return Optional.empty();
    }

    /** Keeps a completed artifact under the key (hard links where possible), replacing an older entry. */
    public void store(String key, Path artifact) {
        Path entry = entry(key);
        try {
            Files.createDirectories(root);
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot create " + root, e);
        }
        try (LocalTarget out = LocalTarget.prepare(entry, IfExists.OVERWRITE)) {
            for (String rel : ArtifactFiles.list(artifact)) {
                ArtifactFiles.linkOrCopy(artifact.resolve(rel), out.staging().resolve(rel));
            }
            out.commit();
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot store the artifact in " + root, e);
        }
    }

    /** Whether every manifest's files are there with their recorded sizes and sha256. */
    static boolean verify(Path entry) {
        List<String> manifests = ArtifactFiles.manifests(entry);
        if (manifests.isEmpty()) {
            return false;
        }
        try {
            for (String rel : manifests) {
                Path m = entry.resolve(rel);
                Path dir = m.getParent();
                Manifest manifest = Manifest.read(m);
                if (manifest.files() == null || manifest.files().isEmpty()) {
                    return false;
                }
                for (Manifest.FileEntry f : manifest.files()) {
                    Path p = dir.resolve(f.path()).normalize();
                    if (!p.startsWith(dir) || !Files.isRegularFile(p) || Files.size(p) != f.bytes()
                            || !Digests.sha256(p).equals(f.sha256())) {
                        return false;
                    }
                }
            }
            return true;
        } catch (IOException | QuantflowException | IllegalArgumentException e) {
            return false;
        }
    }

    private static void remove(Path entry) {
        Path doomed = entry.resolveSibling("." + entry.getFileName() + ".bad-" + System.nanoTime());
        try {
            Files.move(entry, doomed);
        } catch (IOException e) {
            return;
        }
        FileTrees.delete(doomed);
    }
}
