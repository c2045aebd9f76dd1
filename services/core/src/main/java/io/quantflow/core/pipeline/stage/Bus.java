package io.quantflow.core.pipeline.stage;

import io.quantflow.core.pipeline.events.CloudEvent;

/**
 * Where a stage sends events: Kafka in the services, an in-process queue in tests. Every record is
 * keyed by its request id.
 */
public interface Bus {
    /**
     * Sends an event and returns once the broker has it (work items and answers).
     *
     * @throws Unavailable when the broker did not take it: the stage stops and its record is
     *                     delivered again (the stages are idempotent)
     */
    void send(String topic, String key, CloudEvent event);

    /** Sends a progress event without waiting: progress is best effort. */
    void progress(String key, CloudEvent event);

    /** The broker did not take an event; never an answer to the user, always a redelivery. */
    final class Unavailable extends RuntimeException {
        public Unavailable(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
