package io.quantflow.core.pipeline.stage;

import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.pipeline.events.Stage;

/** What the stages count; the services back it with Prometheus meters. Every method defaults to nothing. */
public interface StageMetrics {
    /** A request planned into this many work items. */
    default void planned(int items) {
    }

    /** A work item done by a stage: the bytes it read and wrote and how long it took. */
    default void item(Stage stage, long bytesIn, long bytesOut, long millis) {
    }

    /** A conversion answered with completed. */
    default void completed(long millis) {
    }

    /** A conversion answered with failed. */
    default void failed(Stage stage, ErrorCode code) {
    }

    /** A request or item seen again (a redelivery or a duplicate request). */
    default void duplicate() {
    }

    /** A request id reused for a different request (not converted). */
    default void reusedId() {
    }

    /** An item skipped because its request was answered already (it failed elsewhere). */
    default void skipped(Stage stage) {
    }

    StageMetrics NONE = new StageMetrics() {
    };
}
