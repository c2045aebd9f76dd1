package io.quantflow.core.transfer;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.util.Digests;
import io.quantflow.core.util.Exceptions;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;

/**
 * Fetches one remote file into a partial file, resuming where the partial file ends: each try asks
 * the source for the bytes from there on (an HTTP Range), retries network failures with backoff,
 * and hashes the bytes with sha256 as they arrive (a partial file left by an earlier run is hashed
 * once first). A connection that stalls is closed and the download resumed. Failures to write
 * locally are not retried.
 */
public final class ResumableDownload {
    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "quantflow-download-watchdog");
        t.setDaemon(true);
        return t;
    });

    /** The remote file's bytes from an offset on. */
    public interface RangeSource {
        /**
         * Opens the bytes from {@code offset}. A server that ignores the range answers from 0:
         * {@link Opened#start()} says where the body starts. An IOException is retried; a
         * QuantflowException (not found, access denied) ends the download.
         */
        Opened open(long offset) throws IOException;
    }

    /** An open response body starting at byte {@code start} of the file. */
    public record Opened(InputStream body, long start) implements Closeable {
        @Override
        public void close() throws IOException {
            body.close();
        }
    }

    private final Backoff backoff;
    private final Duration stallTimeout;
    private final BooleanSupplier cancelled;

    /** @param cancelled says when to give up at once (another download of the same batch failed) */
    public ResumableDownload(Backoff backoff, Duration stallTimeout, BooleanSupplier cancelled) {
        this.backoff = backoff;
        this.stallTimeout = stallTimeout;
        this.cancelled = cancelled;
    }

    /**
     * Completes {@code partial} and returns the sha256 of the whole file.
     *
     * @param expectedSize the file's size, or -1 when unknown (then the end of a body is the end)
     * @param what         the file as a user knows it, for messages
     */
    public String fetch(Path partial, long expectedSize, RangeSource source, String what, LongConsumer progress) {
        MessageDigest md = Digests.sha256();
        long digested = 0;
        for (int attempt = 1; ; attempt++) {
            long have = size(partial);
            if (expectedSize >= 0 && have > expectedSize) {
                truncate(partial);
                have = 0;
            }
            if (digested != have) {
                md.reset();
                digested = hashPrefix(partial, have, md);
                progress.accept(have);
            }
            if (expectedSize >= 0 && have == expectedSize) {
                return Digests.hex(md);
            }
            try (Opened opened = source.open(have)) {
                if (opened.start() != have) {
                    if (opened.start() != 0) {
                        throw new IOException("the server answered from byte " + opened.start() + " when asked for " + have);
                    }
                    progress.accept(-have);
                    truncate(partial);
                    md.reset();
                    digested = 0;
                }
                digested += copy(opened, partial, md, progress);
                if (expectedSize < 0) {
                    return Digests.hex(md);
                }
                if (digested > expectedSize) {
                    throw QuantflowException.of(Reason.DOWNLOAD_CORRUPT, what + ": the server sent more bytes (" + digested
                            + ") than the file's size (" + expectedSize + ")");
                }
                if (digested < expectedSize) {
                    throw new IOException("the connection ended after " + digested + " of " + expectedSize + " bytes");
                }
                return Digests.hex(md);
            } catch (IOException e) {
                if (attempt >= backoff.attempts() || cancelled.getAsBoolean()) {
                    throw QuantflowException.of(Reason.RETRIES_EXHAUSTED, "downloading " + what + " failed " + attempt
                            + " times, last: " + Exceptions.describe(e), e);
                }
                try {
                    backoff.sleepBefore(attempt + 1);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw QuantflowException.of(Reason.INTERRUPTED, "downloading " + what + " was interrupted", ie);
                }
            }
        }
    }

    /** Appends the body to the file; returns the bytes appended. Network failures are IOExceptions, local ones not. */
    private long copy(Opened opened, Path partial, MessageDigest md, LongConsumer progress) throws IOException {
        AtomicLong lastProgress = new AtomicLong(System.nanoTime());
        ScheduledFuture<?> watch = WATCHDOG.scheduleAtFixedRate(() -> {
            if (System.nanoTime() - lastProgress.get() > stallTimeout.toNanos()) {
                try {
                    opened.body().close();
                } catch (IOException ignored) {
                    // the reader sees the stream closed either way
                }
            }
        }, stallTimeout.toMillis() / 4 + 1, stallTimeout.toMillis() / 4 + 1, TimeUnit.MILLISECONDS);
        long n = 0;
        try (FileChannel ch = open(partial)) {
            byte[] buf = new byte[1 << 16];
            InputStream in = opened.body();
            int r;
            while ((r = in.read(buf)) > 0) {
                lastProgress.set(System.nanoTime());
                if (cancelled.getAsBoolean()) {
                    throw new CancellationException();
                }
                try {
                    ByteBuffer bb = ByteBuffer.wrap(buf, 0, r);
                    while (bb.hasRemaining()) {
                        ch.write(bb);
                    }
                } catch (IOException e) {
                    throw QuantflowException.ioFailure("writing " + partial, e);
                }
                md.update(buf, 0, r);
                n += r;
                progress.accept(r);
            }
            return n;
        } finally {
            watch.cancel(false);
        }
    }

    private static FileChannel open(Path partial) {
        try {
            return FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot write " + partial, e);
        }
    }

    private static long size(Path p) {
        try {
            return Files.exists(p) ? Files.size(p) : 0;
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot read " + p, e);
        }
    }

    private static void truncate(Path p) {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ch.truncate(0);
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot write " + p, e);
        }
    }

    private static long hashPrefix(Path p, long length, MessageDigest md) {
        if (length == 0) {
            return 0;
        }
        try (InputStream in = Files.newInputStream(p)) {
            byte[] buf = new byte[1 << 20];
            long left = length;
            while (left > 0) {
                int r = in.read(buf, 0, (int) Math.min(buf.length, left));
                if (r < 0) {
                    break;
                }
                md.update(buf, 0, r);
                left -= r;
            }
            return length - left;
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot read " + p, e);
        }
    }
}
