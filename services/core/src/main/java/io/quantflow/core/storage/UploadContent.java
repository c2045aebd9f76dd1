package io.quantflow.core.storage;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** The bytes to upload, readable from any offset (a part may be sent again). */
public interface UploadContent {
    long size();

    InputStream open(long offset, long length) throws IOException;

    static UploadContent of(Path file) throws IOException {
        long size = Files.size(file);
        return new UploadContent() {
            @Override
            public long size() {
                return size;
            }

            @Override
            public InputStream open(long offset, long length) throws IOException {
                FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
                ch.position(offset);
                return new Bounded(Channels.newInputStream(ch), length);
            }
        };
    }

    /** At most {@code limit} bytes of a stream. */
    final class Bounded extends InputStream {
        private final InputStream in;
        private long left;

        Bounded(InputStream in, long limit) {
            this.in = in;
            this.left = limit;
        }

        @Override
        public int read() throws IOException {
            if (left <= 0) {
                return -1;
            }
            int b = in.read();
            if (b >= 0) {
                left--;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (left <= 0) {
                return -1;
            }
            int r = in.read(b, off, (int) Math.min(len, left));
            if (r > 0) {
                left -= r;
            }
            return r;
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }
}
