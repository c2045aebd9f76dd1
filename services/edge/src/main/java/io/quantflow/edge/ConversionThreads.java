package io.quantflow.edge;

import java.util.concurrent.ExecutorService;

/** The threads a merge or quantize stage converts a shard with (one per processor unless QUANTFLOW_THREADS says otherwise). */
public record ConversionThreads(ExecutorService pool) {
}
