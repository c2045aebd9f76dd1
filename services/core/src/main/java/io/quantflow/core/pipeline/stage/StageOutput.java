package io.quantflow.core.pipeline.stage;

import io.quantflow.core.pipeline.ShardResult;
import io.quantflow.core.pipeline.events.Stage;

/**
 * What a merge or quantize stage wrote for one item ({@code <key>.result.json} beside the shard):
 * the shard's index entries and sizes, the engine that made it and the time it took.
 */
public record StageOutput(Stage stage, ShardResult result, String engine, long millis) {
    public static String key(String shardKey) {
        return shardKey + ".result.json";
    }
}
