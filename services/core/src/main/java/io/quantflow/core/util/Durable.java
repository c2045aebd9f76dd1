package io.quantflow.core.util;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Making written files survive a crash before they are published: their bytes, then the directory entries. */
public final class Durable {
    private Durable() {
    }

    /** Forces a written file's bytes and metadata to the disk. */
    public static void file(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    /** Forces a directory's entries to the disk, where the file system allows it (not every one lets a directory be synced). */
    public static void directory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // the files themselves were forced
        }
    }
}
