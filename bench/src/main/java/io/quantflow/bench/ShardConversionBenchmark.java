package io.quantflow.bench;

import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.pipeline.ShardConversion;
import io.quantflow.core.pipeline.ShardResult;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.synth.ModelShape;
import io.quantflow.core.synth.SyntheticCheckpoint;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.util.FileTrees;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The converter's own loop on one shard: {@link ShardConversion#run} (the code {@code quantflow convert} and the
 * pipeline's quantizer run: plan, read each tensor in chunks, hand them to the format's codec, place the bytes,
 * finish the header) on a synthetic single-shard Llama-shaped model, against copying the same file in the same
 * run. Files live in {@code java.io.tmpdir}; put it on a RAM disk ({@code -Djava.io.tmpdir=/dev/shm}) to keep the
 * disk out of the figure. Run: {@code java --add-modules jdk.incubator.vector -cp bench/target/quantflow-bench.jar org.openjdk.jmh.Main ShardConversionBenchmark}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@State(Scope.Benchmark)
public class ShardConversionBenchmark {
    /** A model shape of {@link ModelShape#KNOWN}, written as one bf16 shard. */
    @Param("llama-160m")
    public String shape;

    /** The format the shard is converted to. */
    @Param({"bnb-4bit"})
    public String format;

    /** Worker threads (0: one per core). */
    @Param({"1", "0"})
    public int threads;

    private Path dir;
    private Path out;
    private ExecutorService pool;
    private ShardConversion.Input input;
    private OutputSpec spec;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        dir = Files.createTempDirectory("qf-shard-bench");
        Path model = dir.resolve("model");
        SyntheticCheckpoint.write(ModelShape.named(shape), DType.BF16, 1, model, Long.MAX_VALUE, IfExists.FAIL, n -> {
        });
        input = new ShardConversion.Input(model.resolve(Checkpoint.CONFIG_FILE), model.resolve("model.safetensors"),
                "model.safetensors", null);
        spec = new OutputSpec(Formats.parse(format), "", QuantOptions.defaults(), null);
        out = dir.resolve("out.safetensors");
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        pool = Executors.newFixedThreadPool(n, r -> {
            Thread t = new Thread(r, "bench-worker");
            t.setDaemon(true);
            return t;
        });
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        pool.shutdownNow();
        FileTrees.delete(dir);
    }

    /** The baseline: the source shard copied to the output file (read and written once). */
    @Benchmark
    public long copy() throws IOException {
        Files.copy(input.shardFile(), out, StandardCopyOption.REPLACE_EXISTING);
        return Files.size(out);
    }

    /** The shard converted as the converter converts it, CPU only. */
    @Benchmark
    public ShardResult convert() throws IOException {
        Files.deleteIfExists(out);
        return ShardConversion.run(input, spec, out, null, pool);
    }
}
