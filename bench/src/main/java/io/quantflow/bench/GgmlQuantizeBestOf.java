package io.quantflow.bench;

import io.quantflow.core.ggml.GgmlQuantizers;
import io.quantflow.core.ggml.GgmlType;

import java.util.Arrays;
import java.util.Locale;

/**
 * The best and median of many single-thread runs of {@link GgmlQuantizeBenchmark}'s work, the fast and the scalar
 * path taking turns, timed in the thread's CPU time (so that time spent waiting for a core on a shared machine does
 * not count): the best run is the steadiest figure, and it is what {@code scripts/reference/ggml_quants_bench.c}
 * prints for ggml on the same weights, also in thread CPU time.
 * Run: {@code java --add-modules jdk.incubator.vector -cp bench/target/quantflow-bench.jar io.quantflow.bench.GgmlQuantizeBestOf [ROUNDS]}.
 */
public final class GgmlQuantizeBestOf {
    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();

    private GgmlQuantizeBestOf() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 15;
        float[] w = GgmlQuantizeBenchmark.weights(GgmlQuantizeBenchmark.VALUES);
        System.out.println("path: " + GgmlQuantizers.implementation());
        for (String name : new String[] {"Q4_K", "Q5_K", "Q6_K", "Q8_0", "Q4_0"}) {
            GgmlType type = GgmlType.valueOf(name);
            byte[] out = new byte[(int) type.rowBytes(w.length)];
            long until = System.nanoTime() + 3_000_000_000L;
            while (System.nanoTime() < until) {
                run(type, w, out, true);
                run(type, w, out, false);
            }
            double[] fast = new double[rounds];
            double[] scalar = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                fast[r] = run(type, w, out, true);
                scalar[r] = run(type, w, out, false);
            }
            Arrays.sort(fast);
            Arrays.sort(scalar);
            System.out.printf(Locale.ROOT, "%-5s %d values: fast best %.3f ms, median %.3f ms (%.1f M values/s at best);"
                    + " scalar best %.3f ms, median %.3f ms (%.1f M values/s at best)%n", name, w.length, fast[0],
                    fast[rounds / 2], w.length / fast[0] / 1e3, scalar[0], scalar[rounds / 2], w.length / scalar[0] / 1e3);
        }
    }

    private static double run(GgmlType type, float[] w, byte[] out, boolean fast) {
        int row = GgmlQuantizeBenchmark.ROW;
        long t0 = THREADS.getCurrentThreadCpuTime();
        for (int r = 0; r < w.length; r += row) {
            if (fast) {
                GgmlQuantizers.quantize(type, w, r, row, out, (int) type.rowBytes(r));
            } else {
                GgmlQuantizers.quantizeScalar(type, w, r, row, out, (int) type.rowBytes(r));
            }
        }
        return (THREADS.getCurrentThreadCpuTime() - t0) / 1e6;
    }
}
