package io.quantflow.core.util;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Whole directory trees. */
public final class FileTrees {
    private FileTrees() {
    }

    /**
     * Deletes a directory tree (or a file) as far as it can, never failing: what it cannot delete is
     * left, and quantflow only ever deletes trees it named as hidden leftovers ({@code .NAME.partial-*},
     * scratch and staging folders).
     */
    public static void delete(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort: a leftover is hidden and named as one
                }
            });
        } catch (IOException ignored) {
            // best effort, as above
        }
    }
}
