package io.quantflow.core.model;

import io.quantflow.core.safetensors.SafetensorsFile;

import java.util.List;

/** One source shard: its file name (output shards are named the same) and its tensors as the outputs see them. */
public record SourceShard(String fileName, SafetensorsFile file, List<SourceTensor> tensors) {

    public long sourceBytes() {
        return tensors.stream().mapToLong(SourceTensor::sourceBytes).sum();
    }
}
