package io.quantflow.bench;

import io.quantflow.core.format.EncodedWeight;
import io.quantflow.core.format.TensorSink;
import io.quantflow.core.format.WeightCodec;
import io.quantflow.core.format.WeightEncoding;
import io.quantflow.core.format.bnb4bit.Bnb4bitCodec;
import io.quantflow.core.format.bnb8bit.Bnb8bitCodec;
import io.quantflow.core.format.ct.Fp8Codec;
import io.quantflow.core.format.ct.Nvfp4Codec;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.quant.Quantizers;
import io.quantflow.core.quant.VectorBlockwiseQuantizer;
import io.quantflow.core.safetensors.DType;
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

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * One core encoding one bf16 weight ({@code [rows, cols]}, N(0, 0.02^2)) as the shard writer hands it to a codec,
 * chunk after chunk, nothing written: the compressed-tensors codecs (FP8 per channel and per block, scalar reference
 * and Vector API; NVFP4) and bitsandbytes int8 against today's bitsandbytes nf4 codec (double quantization, scalar and Vector API) in the
 * same run. The bf16 bytes are decoded to float32 first where the codec takes floats (as the shard writer does);
 * nf4 takes the stored bf16 bytes itself. One operation is the whole weight.
 * Run: {@code java --add-modules jdk.incubator.vector -cp bench/target/quantflow-bench.jar org.openjdk.jmh.Main CtCodecBenchmark}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@State(Scope.Benchmark)
public class CtCodecBenchmark {
    private static final int CHUNK = 1 << 18;

    @Param("2048")
    public int rows;
    @Param("4096")
    public int cols;

    @Param({"nf4-scalar", "nf4-vector", "fp8-dynamic-scalar", "fp8-dynamic-vector", "fp8-block-scalar", "fp8-block-vector", "nvfp4", "bnb-int8"})
    public String codec;

    private byte[] bf16;
    private WeightCodec c;
    private ExecutorService pool;

    @Setup(Level.Trial)
    public void setUp() {
        Random rnd = new Random(42);
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rnd.nextGaussian() * 0.02);
        }
        bf16 = new byte[v.length * 2];
        HalfFloats.encode(DType.BF16, v, 0, v.length, bf16, 0);
        c = switch (codec) {
            case "nf4-scalar" -> new Bnb4bitCodec(QuantOptions.defaults(), Quantizers.scalar(QuantType.NF4));
            case "nf4-vector" -> new Bnb4bitCodec(QuantOptions.defaults(), new VectorBlockwiseQuantizer(QuantType.NF4));
            case "fp8-dynamic-scalar" -> new Fp8Codec(1, 0, false);
            case "fp8-dynamic-vector" -> new Fp8Codec(1, 0, true);
            case "fp8-block-scalar" -> new Fp8Codec(128, 128, false);
            case "fp8-block-vector" -> new Fp8Codec(128, 128, true);
            case "nvfp4" -> new Nvfp4Codec();
            case "bnb-int8" -> new Bnb8bitCodec();
            default -> throw new IllegalArgumentException(codec);
        };
        // the pool a weight's finishing work goes to: one thread, so that the whole weight is one core's work
        pool = Executors.newSingleThreadExecutor();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.shutdownNow();
    }

    @Benchmark
    public ErrorSums encode() throws Exception {
        EncodedWeight w = c.weight("model.layers.0.mlp.down_proj.weight", DType.BF16, new long[] {rows, cols});
        WeightEncoding e = w.start();
        long chunk = w.chunkElements(CHUNK);
        int n = rows * cols;
        float[] values = new float[(int) chunk];
        byte[] out = new byte[(int) chunk * 2];
        byte[] raw = new byte[(int) chunk * 2];
        ErrorSums total = new ErrorSums();
        for (int s = 0; s < n; s += (int) chunk) {
            int len = (int) Math.min(chunk, n - s);
            WeightEncoding.Chunk ch;
            if (e.encodesBf16()) {
                System.arraycopy(bf16, 2 * s, raw, 0, 2 * len);
                ch = new WeightEncoding.Chunk(s, len, null, raw, k -> out);
            } else {
                HalfFloats.decode(DType.BF16, bf16, 2 * s, len, values, 0);
                ch = new WeightEncoding.Chunk(s, len, values, null, k -> out);
            }
            total.add(e.encode(ch, TensorSink.DISCARD));
        }
        List<Future<?>> background = new ArrayList<>();
        e.finish(total, m -> {
        }, TensorSink.DISCARD, pool, background);
        for (Future<?> f : background) {
            f.get();
        }
        return total;
    }
}
