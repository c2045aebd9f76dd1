/**
 * The conversion split for an event-driven pipeline: {@link io.quantflow.core.pipeline.RequestCheck}
 * checks a request from config.json and the shards' headers, {@link io.quantflow.core.pipeline.ShardConversion}
 * converts one source shard for one output, and {@link io.quantflow.core.pipeline.ModelFiles} writes
 * what a publisher adds to the converted shards. Put together they write the same bytes as
 * {@link io.quantflow.core.convert.Converter} (every file but the manifest); {@link io.quantflow.core.pipeline.OutputQuality}
 * makes a 4-bit output's quality section from the shards' results, as {@code Converter} makes it.
 */
package io.quantflow.core.pipeline;
