package io.quantflow.core.format;

/** Which shard stage of the pipeline does a format's per-shard work before the publisher assembles the output. */
public enum ShardStep {
    /** None: the publisher writes the output from the request alone (the adapter). */
    NONE,
    /** The merger: the adapter merged into each shard, written in 16 bit. */
    MERGE,
    /** The quantizer: each shard quantized (merging on the way when the format merges). */
    QUANTIZE
}
