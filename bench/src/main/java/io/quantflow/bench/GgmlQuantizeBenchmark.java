package io.quantflow.bench;

import io.quantflow.core.ggml.GgmlQuantizers;
import io.quantflow.core.ggml.GgmlType;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.util.concurrent.TimeUnit;

/**
 * llama.cpp's quantizers on one thread: {@link GgmlQuantizers#quantize} (the Vector API search of Q4_K and Q5_K
 * where the JVM offers it) against {@link GgmlQuantizers#quantizeScalar} (the plain port) in the same run, on
 * {@value #VALUES} weights (rows of 4096 values, N(0, 0.02^2) rounded to bf16 as a checkpoint stores them, from the
 * same generator as {@code scripts/reference/ggml_quants_bench.c}, which times ggml's own {@code quantize_row_*_ref}
 * on them). One operation quantizes all of them; divide {@value #VALUES} by the time for values/s.
 * Run: {@code java --add-modules jdk.incubator.vector -cp bench/target/quantflow-bench.jar org.openjdk.jmh.Main GgmlQuantizeBenchmark}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@State(Scope.Thread)
public class GgmlQuantizeBenchmark {
    static final int ROW = 4096;
    static final int VALUES = ROW * 256;

    @Param({"Q4_K", "Q5_K", "Q6_K", "Q8_0", "Q4_0"})
    public String type;

    /** {@code fast}: {@link GgmlQuantizers#quantize}; {@code scalar}: {@link GgmlQuantizers#quantizeScalar}. */
    @Param({"fast", "scalar"})
    public String path;

    private GgmlType ggml;
    private float[] weights;
    private byte[] out;

    @Setup
    public void setUp() {
        ggml = GgmlType.valueOf(type);
        weights = weights(VALUES);
        out = new byte[(int) ggml.rowBytes(VALUES)];
    }

    @Benchmark
    public byte[] quantize() {
        boolean fast = path.equals("fast");
        for (int r = 0; r < VALUES; r += ROW) {
            if (fast) {
                GgmlQuantizers.quantize(ggml, weights, r, ROW, out, (int) ggml.rowBytes(r));
            } else {
                GgmlQuantizers.quantizeScalar(ggml, weights, r, ROW, out, (int) ggml.rowBytes(r));
            }
        }
        return out;
    }

    /**
     * N(0, 0.02^2) rounded to bf16: splitmix64 uniforms, Box-Muller in double, as ggml_quants_bench.c makes them.
     */
    static float[] weights(int n) {
        float[] w = new float[n];
        long[] state = {0x9E3779B97F4A7C15L};
        for (int i = 0; i < n; i += 2) {
            double u1 = (next(state) >>> 11) * 0x1.0p-53;
            double u2 = (next(state) >>> 11) * 0x1.0p-53;
            double r = Math.sqrt(-2 * Math.log(1 - u1));
            w[i] = bf16(0.02f * (float) (r * Math.cos(2 * Math.PI * u2)));
            w[i + 1] = bf16(0.02f * (float) (r * Math.sin(2 * Math.PI * u2)));
        }
        return w;
    }

    private static long next(long[] s) {
        long z = (s[0] += 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static float bf16(float f) {
        int b = Float.floatToRawIntBits(f);
        return Float.intBitsToFloat(((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) << 16);
    }
}
