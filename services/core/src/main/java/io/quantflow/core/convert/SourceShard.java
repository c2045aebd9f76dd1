package io.quantflow.core.convert;

import io.quantflow.core.safetensors.SafetensorsFile;

import java.util.List;

/** One source shard: its file name (output shards are named the same) and its tensors as the outputs see them. */
record SourceShard(String fileName, SafetensorsFile file, List<SourceTensor> tensors) {

    long sourceBytes() {
        return tensors.stream().mapToLong(SourceTensor::sourceBytes).sum();
    }
}
