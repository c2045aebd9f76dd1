package io.quantflow.core.safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A safetensors file being written. The header space is reserved up front; tensor bytes go to
 * their final positions with positional writes (from any thread), and the header is written last.
 * The reserved length may exceed what the final header needs (when a tensor's size is only known
 * once it has been computed): the header is then padded with spaces, which readers accept.
 */
public final class SafetensorsOutput implements AutoCloseable {
    private final FileChannel channel;
    private final int reservedHeader;

    private SafetensorsOutput(FileChannel channel, int reservedHeader) {
        this.channel = channel;
        this.reservedHeader = reservedHeader;
    }

    public static SafetensorsOutput create(Path path, int reservedHeaderLength) throws IOException {
        if (reservedHeaderLength % 8 != 0) {
            throw new IllegalArgumentException("reserved header length must be a multiple of 8");
        }
        FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                StandardOpenOption.READ);
        return new SafetensorsOutput(ch, reservedHeaderLength);
    }

    public long dataStart() {
        return 8L + reservedHeader;
    }

    /** Writes all of {@code src} at {@code offset} bytes into the data section. */
    public void write(long offset, ByteBuffer src) throws IOException {
        long pos = dataStart() + offset;
        while (src.hasRemaining()) {
            pos += channel.write(src, pos);
        }
    }

    public FileChannel channel() {
        return channel;
    }

    /** Writes the length prefix and header; call once every tensor byte is in place. */
    public void finish(SafetensorsLayout layout) throws IOException {
        channel.truncate(dataStart() + layout.dataLength());
        ByteBuffer prefix = ByteBuffer.wrap(layout.prefix(reservedHeader));
        long pos = 0;
        while (prefix.hasRemaining()) {
            pos += channel.write(prefix, pos);
        }
        if (channel.size() != dataStart() + layout.dataLength()) {
            throw new IOException("incomplete safetensors output: " + channel.size() + " bytes written, "
                    + (dataStart() + layout.dataLength()) + " declared");
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
