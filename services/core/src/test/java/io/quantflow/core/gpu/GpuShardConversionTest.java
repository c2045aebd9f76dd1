package io.quantflow.core.gpu;

import io.quantflow.core.Fixtures;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.convert.Backends;
import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.Device;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.pipeline.ShardConversion;
import io.quantflow.core.pipeline.ShardResult;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.TensorQuantizer;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.synth.ModelShape;
import io.quantflow.core.synth.SyntheticCheckpoint;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.util.Digests;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pipeline's quantizer on a GPU node: each shard converted by {@link ShardConversion} with the
 * GPU accelerator is byte for byte the shard of the CPU's whole conversion (bnb-4bit of a sharded
 * model; merged-4bit, where the quantizer merges the adapter on the way).
 */
@Tag("gpu")
class GpuShardConversionTest {
    static ExecutorService pool;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        pool = Executors.newFixedThreadPool(4);
    }

    @AfterAll
    static void stop() {
        pool.shutdownNow();
    }

    @Test
    void shardsOfASyntheticModelQuantizedOnTheGpuAreTheCpuConversionsShards() throws IOException {
        Path src = tmp.resolve("synth");
        SyntheticCheckpoint.write(ModelShape.named("tiny-llama"), DType.BF16, 5, src, 1_000_000, IfExists.FAIL, n -> { });
        assertSameShards(src, null, Formats.BNB_4BIT);
    }

    @Test
    void aMergedFourBitShardQuantizedOnTheGpuIsTheCpuConversionsShard() throws IOException {
        assertSameShards(Fixtures.path("tiny-llama/base-bf16"), Fixtures.path("tiny-llama/lora-adapter"), Formats.MERGED_4BIT);
    }

    private void assertSameShards(Path src, Path adapter, OutputFormat format) throws IOException {
        Path cpu = tmp.resolve("cpu");
        new Converter().convert(new Converter.Request(src, adapter, cpu, List.of(format), QuantOptions.defaults(), null, IfExists.FAIL, 4,
                Device.CPU), Converter.Listener.NONE);
        OutputSpec spec = new OutputSpec(format, "", QuantOptions.defaults(), null);
        List<Checkpoint.Shard> shards;
        try (Checkpoint c = Checkpoint.open(src)) {
            shards = c.shards();
            assertTrue(!shards.isEmpty());
            for (Checkpoint.Shard s : shards) {
                Path out = tmp.resolve("gpu-" + s.fileName());
                ShardResult r;
                try (TensorQuantizer gpu = Backends.openAccelerator(Device.GPU)) {
                    assertTrue(gpu != null && gpu.name().startsWith("gpu "), "a GPU accelerator");
                    r = ShardConversion.run(new ShardConversion.Input(src.resolve(Checkpoint.CONFIG_FILE), src.resolve(s.fileName()),
                            s.fileName(), adapter), spec, out, gpu, pool);
                }
                assertEquals(Digests.sha256(cpu.resolve(s.fileName())), r.sha256(), s.fileName());
                assertArrayEquals(Files.readAllBytes(cpu.resolve(s.fileName())), Files.readAllBytes(out), s.fileName());
            }
        }
    }
}
