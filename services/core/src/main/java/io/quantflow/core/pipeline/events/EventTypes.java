package io.quantflow.core.pipeline.events;

import java.util.Set;

/** The CloudEvent types of the pipeline (schemas/README.md). */
public final class EventTypes {
    public static final String REQUESTED = "io.quantflow.conversion.requested";
    public static final String PROGRESS = "io.quantflow.conversion.progress";
    public static final String COMPLETED = "io.quantflow.conversion.completed";
    public static final String FAILED = "io.quantflow.conversion.failed";
    public static final String SHARD_WORK = "io.quantflow.shard.work";
    public static final Set<String> ALL = Set.of(REQUESTED, PROGRESS, COMPLETED, FAILED, SHARD_WORK);

    private EventTypes() {
    }
}
