package io.quantflow.core.transfer;

import io.quantflow.core.error.QuantflowException;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Exclusive locks on files in a cache, held against other threads of this process and against
 * other processes (an OS file lock), so that two conversions never write one partial file.
 */
public final class FileLocks {
    private static final ConcurrentHashMap<Path, ReentrantLock> LOCAL = new ConcurrentHashMap<>();

    private FileLocks() {
    }

    /** A held lock; closing releases it. */
    public interface Held extends AutoCloseable {
        @Override
        void close();
    }

    /** Waits for and takes the lock named by {@code lockFile} (created when missing). */
    public static Held acquire(Path lockFile) {
        Path key = lockFile.toAbsolutePath().normalize();
        ReentrantLock local = LOCAL.computeIfAbsent(key, k -> new ReentrantLock());
        local.lock();
        try {
            Files.createDirectories(key.getParent());
            FileChannel ch = FileChannel.open(key, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = ch.lock();
            } catch (IOException | RuntimeException e) {
                ch.close();
                throw e;
            }
            return () -> {
                try {
                    lock.release();
                    ch.close();
                } catch (IOException ignored) {
                    // closing the channel releases the lock in any case
                } finally {
                    local.unlock();
                }
            };
        } catch (IOException e) {
            local.unlock();
            throw QuantflowException.ioFailure("cannot lock " + key, e);
        } catch (RuntimeException e) {
            local.unlock();
            throw e;
        }
    }
}
