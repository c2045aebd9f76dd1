package io.quantflow.core.convert;

import io.quantflow.core.checkpoint.Checkpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The whole conversion, planned from headers alone: one {@link ShardPlan} per source shard. */
public final class ConversionPlan {
    private final Checkpoint checkpoint;
    private final List<ShardPlan> shards;

    private ConversionPlan(Checkpoint checkpoint, List<ShardPlan> shards) {
        this.checkpoint = checkpoint;
        this.shards = shards;
    }

    public static ConversionPlan of(Checkpoint checkpoint, QuantOptions options) {
        ModuleSelector selector = new ModuleSelector(options.skipModules());
        List<ShardPlan> shards = new ArrayList<>();
        for (Checkpoint.Shard s : checkpoint.shards()) {
            shards.add(new ShardPlan(s.fileName(), s.file(), selector, options));
        }
        return new ConversionPlan(checkpoint, List.copyOf(shards));
    }

    /**
     * Bytes of the weight files a conversion of these tensors would write (headers approximated):
     * sizes follow from shapes, so this answers for models that are not on disk.
     */
    public static long estimateWeightBytes(List<io.quantflow.core.safetensors.TensorSpec> tensors, QuantOptions options) {
        ModuleSelector selector = new ModuleSelector(options.skipModules());
        long bytes = 0;
        for (io.quantflow.core.safetensors.TensorSpec s : tensors) {
            io.quantflow.core.safetensors.TensorInfo t =
                    new io.quantflow.core.safetensors.TensorInfo(s.name(), s.dtype(), s.shape(), 0, s.byteSize());
            if (selector.quantize(t)) {
                QuantizedTensorNames q = new QuantizedTensorNames(t, options);
                for (io.quantflow.core.safetensors.TensorSpec o : q.specs(q.state(0f).maxJsonLength())) {
                    bytes += o.byteSize() + 120;
                }
            } else {
                bytes += s.byteSize() + 80;
            }
        }
        return bytes;
    }

    public List<ShardPlan> shards() {
        return shards;
    }

    public int quantizedCount() {
        return shards.stream().mapToInt(ShardPlan::quantizedCount).sum();
    }

    public int copiedCount() {
        return shards.stream().mapToInt(ShardPlan::copiedCount).sum();
    }

    public long quantizedParameters() {
        return shards.stream().mapToLong(ShardPlan::quantizedParameters).sum();
    }

    /** Tensor bytes read from the source. */
    public long sourceBytes() {
        return shards.stream().mapToLong(ShardPlan::sourceBytes).sum();
    }

    /** Upper bound of the weight files' size: known from shapes before anything is written. */
    public long maxWeightBytes() {
        return shards.stream().mapToLong(ShardPlan::maxFileBytes).sum();
    }

    /** Upper bound of everything written: weights, config and index (generously), the other files. */
    public long maxOutputBytes() {
        long other = 0;
        for (Path p : checkpoint.otherFiles()) {
            try {
                other += Files.size(p);
            } catch (IOException e) {
                throw TargetDirectory.ioFailure("cannot read " + p, e);
            }
        }
        return maxWeightBytes() + other + (1 << 20) + 200L * quantizedCount();
    }
}
