package io.quantflow.core.safetensors;

import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;

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
 * nothing ever holds a whole tensor or file in the heap.
 */
public final class SafetensorsFile implements AutoCloseable {
    private final Path path;
    private final FileChannel channel;
    private final SafetensorsHeader header;
    private final long dataStart;

    private SafetensorsFile(Path path, FileChannel channel, SafetensorsHeader header, long dataStart) {
        this.path = path;
        this.channel = channel;
        this.header = header;
        this.dataStart = dataStart;
    }

    public static SafetensorsFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new QuantflowException(ErrorCode.SOURCE_NOT_FOUND, path + ": no such file");
        } catch (AccessDeniedException e) {
            throw new QuantflowException(ErrorCode.ACCESS_DENIED, path + ": permission denied");
        } catch (IOException e) {
            throw new QuantflowException(ErrorCode.SOURCE_NOT_FOUND, path + ": cannot open (" + e.getMessage() + ")");
        }
        try {
            String where = path.getFileName().toString();
            long size = ch.size();
            if (size < 8) {
                throw SafetensorsHeader.bad(where, "file is " + size + " bytes, too short for a safetensors header");
            }
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, 0);
            long n = len.getLong(0);
            if (n < 0 || n > SafetensorsHeader.MAX_HEADER_BYTES) {
                throw SafetensorsHeader.bad(where, "header length " + Long.toUnsignedString(n)
                        + " exceeds the " + SafetensorsHeader.MAX_HEADER_BYTES + "-byte limit");
            }
            if (n < 2) {
                throw SafetensorsHeader.bad(where, "header length " + n + " is too small to hold a JSON object");
            }
            if (8 + n > size) {
                throw SafetensorsHeader.bad(where, "header length " + n + " does not fit in a " + size + "-byte file");
            }
            ByteBuffer json = ByteBuffer.allocate((int) n);
            readFully(ch, json, 8);
            SafetensorsHeader header = SafetensorsHeader.parse(json.array(), size - 8 - n, where);
            return new SafetensorsFile(path, ch, header, 8 + n);
        } catch (IOException e) {
            closeQuietly(ch);
            throw QuantflowException.invalidCheckpoint(path.getFileName() + ": unreadable (" + e.getMessage() + ")");
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

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

    public FileChannel channel() {
        return channel;
    }

    /**
     * Reads {@code dst.remaining()} bytes of a tensor starting {@code offsetInTensor} bytes into it.
     * The range is checked against the tensor's extent.
     */
    public void read(TensorInfo tensor, long offsetInTensor, ByteBuffer dst) throws IOException {
        if (offsetInTensor < 0 || offsetInTensor + dst.remaining() > tensor.byteSize()) {
            throw new IllegalArgumentException("read outside tensor " + tensor.name());
        }
        readFully(channel, dst, dataStart + tensor.begin() + offsetInTensor);
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

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // closing a read-only channel after a failure: nothing to recover
        }
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }
}
