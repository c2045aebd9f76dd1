package io.quantflow.core.source;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.util.Digests;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * What a source's content is, as one string: {@code git:COMMIT} for a Hub model (the pinned commit
 * names every byte), {@code sha256:HEX} for downloaded files (the sha256 of the sorted list of each
 * file's name, size and sha256), {@code stat:HEX} for a local directory. Two sources with the same
 * hash convert to the same bytes.
 *
 * <p>A local directory is not read in full to be identified: that would double the reading of a
 * conversion whose limit is the disk. Its hash covers each file's name, size, modification time and
 * first megabyte (every safetensors header, the config and tokenizer files whole). An edit in place
 * that keeps a file's size and modification time is not seen; {@code --no-cache} converts anyway.
 */
public final class ContentHash {
    private static final List<String> NEVER_READ = List.of(".bin", ".pt", ".pth", ".ckpt", ".pkl", ".gguf", ".h5",
            ".msgpack", ".onnx", ".bin.index.json");

    private ContentHash() {
    }

    /** One file's part in a hash. */
    public record FileDigest(String name, long size, String sha256) {
    }

    public static String ofCommit(String commit) {
        return "git:" + commit;
    }

    public static String of(List<FileDigest> files) {
        MessageDigest md = Digests.sha256();
        files.stream().sorted(Comparator.comparing(FileDigest::name)).forEach(f ->
                md.update((f.name() + "\0" + f.size() + "\0" + f.sha256() + "\n").getBytes(StandardCharsets.UTF_8)));
        return "sha256:" + Digests.hex(md);
    }

    /**
     * The hash of a model directory: every top-level file a conversion may read or copy (hidden
     * files, pickle and other frameworks' weights, which are never read, left out).
     */
    public static String ofDirectory(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw QuantflowException.of(Reason.NO_SUCH_DIRECTORY, dir + ": no such directory");
        }
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(Files::isRegularFile).filter(p -> counts(p.getFileName().toString())).sorted().toList();
        } catch (AccessDeniedException e) {
            throw QuantflowException.of(Reason.PERMISSION_DENIED, dir + ": permission denied");
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot list " + dir, e);
        }
        List<FileDigest> digests = new ArrayList<>();
        for (Path p : files) {
            try {
                long mtime = Files.getLastModifiedTime(p).to(TimeUnit.NANOSECONDS);
                digests.add(new FileDigest(p.getFileName().toString(), Files.size(p), mtime + ":" + headSha256(p)));
            } catch (IOException e) {
                throw QuantflowException.ioFailure("cannot read " + p, e);
            }
        }
        return "stat:" + of(digests).substring("sha256:".length());
    }

    /** The sha256 of a file's first megabyte. */
    private static String headSha256(Path p) throws IOException {
        try (var in = Files.newInputStream(p)) {
            return Digests.sha256(in.readNBytes(1 << 20));
        }
    }

    private static boolean counts(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return !n.startsWith(".") && !n.equals("quantflow-manifest.json") && NEVER_READ.stream().noneMatch(n::endsWith);
    }
}
