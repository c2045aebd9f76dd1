package io.quantflow.core.pipeline.stage;

/**
 * Two points in publishing a request that {@link PublishStage} reports as it passes them: a shard
 * copied to the target, and an output's manifest about to be written. The services pass
 * {@link #NONE}; the pipeline's tests make the publisher die at one of them, as a crash would.
 */
public interface PublishSteps {
    /** A shard of output {@code output} is at the target under {@code key}. */
    default void shardCopied(int output, String key) {
    }

    /** Output {@code output}'s files are all at the target; its manifest is written next. */
    default void beforeManifest(int output) {
    }

    PublishSteps NONE = new PublishSteps() {
    };
}
