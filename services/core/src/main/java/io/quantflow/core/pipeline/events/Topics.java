package io.quantflow.core.pipeline.events;

/**
 * The Kafka topics of requests and answers; the work topics are the stages' own ({@link Stage#topic()}).
 * Every record is keyed by its request id, so all work and answers of one request share a partition.
 * Each consumed topic has a dead-letter topic, {@code <topic>-dlq}, for records that are not
 * quantflow events.
 */
public final class Topics {
    public static final String REQUESTED = "conversion-requested";
    public static final String PROGRESS = "conversion-progress";
    public static final String COMPLETED = "conversion-completed";
    public static final String FAILED = "conversion-failed";

    private Topics() {
    }

    public static String deadLetter(String topic) {
        return topic + "-dlq";
    }
}
