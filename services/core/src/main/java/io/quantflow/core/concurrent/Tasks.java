package io.quantflow.core.concurrent;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/** Waiting for work handed to a pool, with the first failure as the answer. */
public final class Tasks {
    private Tasks() {
    }

    /** Waits for every task; on the first failure cancels the rest and rethrows it (an I/O failure as it is). */
    public static void await(List<? extends Future<?>> tasks) throws IOException {
        try {
            for (Future<?> f : tasks) {
                f.get();
            }
        } catch (InterruptedException e) {
            tasks.forEach(f -> f.cancel(true));
            Thread.currentThread().interrupt();
            throw QuantflowException.of(Reason.INTERRUPTED, "conversion interrupted");
        } catch (ExecutionException e) {
            tasks.forEach(f -> f.cancel(true));
            Throwable c = e.getCause();
            if (c instanceof IOException io) {
                throw io;
            }
            if (c instanceof RuntimeException re) {
                throw re;
            }
            if (c instanceof Error err) {
                throw err;
            }
            throw QuantflowException.of(Reason.WORKER_FAILED, String.valueOf(c), c);
        }
    }
}
