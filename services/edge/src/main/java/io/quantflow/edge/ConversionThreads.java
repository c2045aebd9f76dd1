package io.quantflow.edge;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The threads a merge or quantize stage converts a shard with: {@code QUANTFLOW_WORK_THREADS}
 * ({@link EdgeConfig#threads()}) of them, or one per available processor when that is 0 (the JVM
 * counts the processors its container may use).
 */
public record ConversionThreads(ExecutorService pool) {

    /** A pool of {@link #count} daemon threads named quantflow-worker. */
    static ConversionThreads start(int configured) {
        return new ConversionThreads(Executors.newFixedThreadPool(count(configured, Runtime.getRuntime().availableProcessors()), r -> {
            Thread t = new Thread(r, "quantflow-worker");
            t.setDaemon(true);
            return t;
        }));
    }

    /** The configured number of threads, or {@code processors} when none (0 or less) is configured. */
    static int count(int configured, int processors) {
        return configured > 0 ? configured : processors;
    }
}
