package io.quantflow.core.pipeline;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.convert.ConversionOptions;
import io.quantflow.core.convert.ConversionPlan;
import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.Planner;
import io.quantflow.core.convert.QualityBuilder;
import io.quantflow.core.convert.ShardPlan;
import io.quantflow.core.convert.ShardWriter;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.lora.LoraAdapter;
import io.quantflow.core.quant.TensorQuantizer;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.util.Digests;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;

/**
 * Converts one source shard for one output: the file {@link Converter} writes for that shard, byte
 * for byte. A 4-bit base is dequantized and an adapter merged as {@code Converter} does; the checks
 * that need the whole model (every adapter tensor has a base tensor, a 4-bit model holds a 4-bit
 * weight, an output has something to quantize) are {@link RequestCheck}'s, made before the shards are
 * handed out.
 */
public final class ShardConversion {
    private ShardConversion() {
    }

    /**
     * One source shard with what converting it needs.
     *
     * @param configFile the model's config.json
     * @param shardFile  the shard, local
     * @param fileName   the shard's name in the model (the output file's name)
     * @param adapterDir the PEFT LoRA adapter directory merged into merged outputs, or null
     */
    public record Input(Path configFile, Path shardFile, String fileName, Path adapterDir) {
    }

    /**
     * Writes {@code outFile}, the output's file for the shard.
     *
     * @param output      an output with weights, as {@link ConversionOptions#outputs} makes it
     * @param accelerator a GPU quantizer, or null to quantize on {@code pool}
     * @throws io.quantflow.core.error.QuantflowException as {@code Converter} refuses the output, the shard or the adapter
     */
    public static ShardResult run(Input in, OutputSpec output, Path outFile, TensorQuantizer accelerator, ExecutorService pool)
            throws IOException {
        if (!output.hasWeights()) {
            throw new IllegalArgumentException("the " + output.format().id() + " output has no weight shards");
        }
        ConversionOptions.of(List.of(output.format()), output.quant(), output.dtype()).outputs(in.adapterDir() != null);
        ObjectNode config = Checkpoint.readConfig(in.configFile());
        try (SafetensorsFile file = SafetensorsFile.open(in.shardFile());
             LoraAdapter adapter = in.adapterDir() == null ? null : LoraAdapter.open(in.adapterDir())) {
            ConversionPlan plan = Planner.forShard(in.fileName(), config, new Checkpoint.Shard(in.fileName(), file), adapter, output);
            ShardPlan shard = plan.plans(output).get(0);
            ShardWriter.Written written = ShardWriter.write(shard, outFile, accelerator, pool);
            return new ShardResult(in.fileName(), Files.size(outFile), Digests.sha256(outFile),
                    written.layout().dataLength(), written.layout().entries().stream().map(TensorInfo::name).toList(),
                    shard.quantizedCount(), shard.keptCount(), shard.quantizedParameters(),
                    written.measured().entrySet().stream().map(e -> ShardResult.WeightError.of(e.getKey(), e.getValue())).toList(),
                    output.quantizes() ? QualityBuilder.tensors(shard, written.layout()) : List.of());
        }
    }
}
