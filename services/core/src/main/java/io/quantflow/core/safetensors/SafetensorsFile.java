package io.quantflow.core.safetensors;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A safetensors file opened for reading. Only the header is read into memory; tensor bytes are read
 * with positional reads into caller-owned buffers, so any number of threads may read at once and
 * nothing ever holds a whole tensor or file in the heap. The bytes come from a local file or from
 * any {@link RangeReader} (an object store's ranged reads): opening one reads only its header.
 */
public final class SafetensorsFile implements AutoCloseable {
    private final Path path;
    private final RangeReader reader;
    private final Closeable resource;
    private final SafetensorsHeader header;
    private final long dataStart;

    /** Reads bytes of a file at a position: from a local channel, by ranged reads of a stored object... */
    @FunctionalInterface
    public interface RangeReader {
        /** Fills {@code dst} with the file's bytes from {@code position}; fails if the file ends first. */
        void readFully(long position, ByteBuffer dst) throws IOException;

        /**
         * The bytes of a file's beginning, e.g. the {@code 8 + N} bytes of its length prefix and header
         * JSON: enough to open the file and read its header, not its tensors.
         */
        static RangeReader ofPrefix(byte[] prefix) {
            return (position, dst) -> {
                if (position < 0 || position + dst.remaining() > prefix.length) {
                    throw new EOFException("bytes " + position + " to " + (position + dst.remaining())
                            + " are past the " + prefix.length + " bytes of the file's beginning at hand");
                }
                dst.put(prefix, (int) position, dst.remaining());
            };
        }
    }

    private SafetensorsFile(Path path, RangeReader reader, Closeable resource, SafetensorsHeader header, long dataStart) {
        this.path = path;
        this.reader = reader;
        this.resource = resource;
        this.header = header;
        this.dataStart = dataStart;
    }

    public static SafetensorsFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw QuantflowException.of(Reason.NO_SUCH_FILE, path + ": no such file");
        } catch (AccessDeniedException e) {
            throw QuantflowException.of(Reason.PERMISSION_DENIED, path + ": permission denied");
        } catch (IOException e) {
            throw QuantflowException.of(Reason.SOURCE_UNREADABLE, path + ": cannot open (" + e.getMessage() + ")");
        }
        try {
            return open(path, ch.size(), (position, dst) -> readFully(ch, dst, position), ch);
        } catch (IOException e) {
            closeQuietly(ch);
            throw QuantflowException.of(Reason.FILE_UNREADABLE, path.getFileName() + ": unreadable (" + e.getMessage() + ")");
        }
    }

    /**
     * A file of {@code size} bytes read through {@code reader}, checked as strictly as a local one:
     * opening it reads the 8-byte header length, then the header. Closing it leaves the reader as it is.
     *
     * @param fileName the file's name, for messages (a shard's name in its model)
     */
    public static SafetensorsFile open(String fileName, long size, RangeReader reader) {
        return open(Path.of(fileName), size, reader, () -> {
        });
    }

    private static SafetensorsFile open(Path path, long size, RangeReader reader, Closeable resource) {
        try {
            String where = path.getFileName().toString();
            if (size < 8) {
                throw SafetensorsHeader.bad(Reason.FILE_TOO_SHORT, where, "file is " + size + " bytes, too short for a safetensors header");
            }
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            reader.readFully(0, len);
            long n = len.getLong(0);
            if (n < 0 || n > SafetensorsHeader.MAX_HEADER_BYTES) {
                throw SafetensorsHeader.bad(Reason.HEADER_TOO_LARGE, where, "header length " + Long.toUnsignedString(n)
                        + " exceeds the " + SafetensorsHeader.MAX_HEADER_BYTES + "-byte limit");
            }
            if (n < 2) {
                throw SafetensorsHeader.bad(Reason.HEADER_MALFORMED, where, "header length " + n + " is too small to hold a JSON object");
            }
            if (8 + n > size) {
                throw SafetensorsHeader.bad(Reason.FILE_TOO_SHORT, where, "header length " + n + " does not fit in a " + size + "-byte file");
            }
            ByteBuffer json = ByteBuffer.allocate((int) n);
            reader.readFully(8, json);
            SafetensorsHeader header = SafetensorsHeader.parse(json.array(), size - 8 - n, where);
            return new SafetensorsFile(path, reader, resource, header, 8 + n);
        } catch (IOException e) {
            closeQuietly(resource);
            throw QuantflowException.of(Reason.FILE_UNREADABLE, path.getFileName() + ": unreadable (" + e.getMessage() + ")");
        } catch (RuntimeException e) {
            closeQuietly(resource);
            throw e;
        }
    }

    /** The local file, or for a file read through a {@link RangeReader}, its name. */
    public Path path() {
        return path;
    }

    public SafetensorsHeader header() {
        return header;
    }

    /** Absolute file position of the first data byte. */
    public long dataStart() {
        return dataStart;
    }

    /**
     * Reads {@code dst.remaining()} bytes of a tensor starting {@code offsetInTensor} bytes into it.
     * The range is checked against the tensor's extent.
     */
    public void read(TensorInfo tensor, long offsetInTensor, ByteBuffer dst) throws IOException {
        if (offsetInTensor < 0 || offsetInTensor + dst.remaining() > tensor.byteSize()) {
            throw new IllegalArgumentException("read outside tensor " + tensor.name());
        }
        reader.readFully(dataStart + tensor.begin() + offsetInTensor, dst);
    }

    static void readFully(FileChannel ch, ByteBuffer dst, long position) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int r = ch.read(dst, pos);
            if (r < 0) {
                throw new EOFException("unexpected end of file at byte " + pos);
            }
            pos += r;
        }
    }

    private static void closeQuietly(Closeable resource) {
        try {
            resource.close();
        } catch (IOException ignored) {
            // closing a read-only channel after a failure: nothing to recover
        }
    }

    @Override
    public void close() {
        closeQuietly(resource);
    }
}
