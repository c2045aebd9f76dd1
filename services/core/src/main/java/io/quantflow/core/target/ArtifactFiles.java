package io.quantflow.core.target;

import io.quantflow.core.error.QuantflowException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** The files of an artifact directory (one output, or one folder per format), and copying them. */
public final class ArtifactFiles {
    /** The manifest's name, at the top of an artifact or of each output folder (the same as {@code convert.Manifest.FILE_NAME}). */
    public static final String MANIFEST_FILE = "quantflow-manifest.json";

    private ArtifactFiles() {
    }

    /** Every regular file under {@code dir} as a path relative to it with '/' separators, hidden ones left out, sorted. */
    public static List<String> list(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile)
                    .map(p -> dir.relativize(p))
                    .filter(r -> {
                        for (Path part : r) {
                            if (part.toString().startsWith(".")) {
                                return false;
                            }
                        }
                        return true;
                    })
                    .map(r -> r.toString().replace('\\', '/'))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot list " + dir, e);
        }
    }

    /** The manifests of an artifact: {@code quantflow-manifest.json}, or {@code FORMAT/quantflow-manifest.json} each. */
    public static List<String> manifests(Path dir) {
        return list(dir).stream().filter(ArtifactFiles::isManifest).toList();
    }

    /** Whether a relative path names a manifest. */
    public static boolean isManifest(String path) {
        return path.equals(MANIFEST_FILE) || path.endsWith("/" + MANIFEST_FILE);
    }

    /**
     * Puts {@code from} at {@code to}: a hard link where the file system allows (the artifact files
     * are never written again), else a copy.
     */
    public static void linkOrCopy(Path from, Path to) throws IOException {
        Files.createDirectories(to.getParent());
        try {
            Files.createLink(to, from);
        } catch (UnsupportedOperationException | FileSystemException e) {
            try (InputStream in = Files.newInputStream(from)) {
                Files.copy(in, to);
            }
        }
    }
}
