package io.quantflow.core.pipeline.stage;

import io.quantflow.core.pipeline.events.CloudEvent;

/**
 * Where a stage sends events: Kafka in the services, an in-process queue in tests. Every record is
 * keyed by its request id.
 */
public interface Bus {
    /** Sends an event and returns once the broker has it (work items and answers). */
    void send(String topic, String key, CloudEvent event);

    /** Sends a progress event without waiting: progress is best effort. */
    void progress(String key, CloudEvent event);
}
