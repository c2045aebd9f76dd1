package io.quantflow.core.transfer;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Runs a batch of downloads, at most {@code parallel} at once. The first failure cancels the rest
 * (their partial files stay, to be resumed) and is the batch's failure.
 */
public final class ParallelDownloads {
    private final int parallel;
    private final AtomicBoolean cancelled = new AtomicBoolean();

    public ParallelDownloads(int parallel) {
        this.parallel = parallel;
    }

    /** True once a download of the batch has failed: the others stop at their next read. */
    public boolean cancelled() {
        return cancelled.get();
    }

    public void run(List<Runnable> tasks) {
        if (tasks.isEmpty()) {
            return;
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(parallel, tasks.size()), r -> {
            Thread t = new Thread(r, "quantflow-download");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (Runnable task : tasks) {
                futures.add(pool.submit(() -> {
                    if (cancelled.get()) {
                        throw new CancellationException();
                    }
                    try {
                        task.run();
                    } catch (RuntimeException | Error e) {
                        cancelled.set(true);
                        throw e;
                    }
                }));
            }
            RuntimeException first = null;
            for (Future<?> f : futures) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    Throwable c = e.getCause();
                    if (c instanceof CancellationException) {
                        continue;
                    }
                    if (first == null) {
                        first = c instanceof RuntimeException r ? r
                                : QuantflowException.of(Reason.WORKER_FAILED, "a download failed: " + c, c);
                    }
                } catch (CancellationException ignored) {
                    // cancelled after another failure
                } catch (InterruptedException e) {
                    cancelled.set(true);
                    Thread.currentThread().interrupt();
                    throw QuantflowException.of(Reason.INTERRUPTED, "interrupted while downloading", e);
                }
            }
            if (first != null) {
                throw first;
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
