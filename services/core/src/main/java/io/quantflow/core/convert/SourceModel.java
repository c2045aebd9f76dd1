package io.quantflow.core.convert;

import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.safetensors.TensorInfo;

import java.util.ArrayList;
import java.util.List;

/**
 * The model the outputs are made from, shard by shard: the source checkpoint's tensors, with the
 * changes the request brings applied to their values.
 */
final class SourceModel {
    private SourceModel() {
    }

    /** The checkpoint's tensors as they are stored. */
    static List<SourceShard> plain(Checkpoint checkpoint) {
        List<SourceShard> shards = new ArrayList<>();
        for (Checkpoint.Shard s : checkpoint.shards()) {
            List<SourceTensor> tensors = new ArrayList<>();
            for (TensorInfo t : s.file().header().tensors()) {
                tensors.add(SourceTensor.plain(s.file(), t));
            }
            shards.add(new SourceShard(s.fileName(), s.file(), List.copyOf(tensors)));
        }
        return shards;
    }
}
