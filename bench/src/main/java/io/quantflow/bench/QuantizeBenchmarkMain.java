package io.quantflow.bench;

import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.quant.VectorBlockwiseQuantizer;
import io.quantflow.core.quant.VectorizationProvider;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Runs {@link QuantizeBenchmark} through JMH and prints a table: per benchmark, G elements/s, GB/s
 * of bf16 input, throughput relative to the memory-copy baseline of the same run, then the
 * vector/scalar speedups and the scaling over threads.
 *
 * <p>Defaults are short (fork 1, 2 x 1 s warmup, 3 x 1 s measurement). Any JMH command-line option
 * overrides them ({@code -f 3 -wi 5 -i 10 -r 2s}, {@code -p threads=1,2,4}, a benchmark regex); so do
 * the system properties {@code bench.forks}, {@code bench.warmupIterations}, {@code bench.warmupTime},
 * {@code bench.iterations} and {@code bench.time}. The copy baseline always runs.
 */
public final class QuantizeBenchmarkMain {
    private static final String BENCHMARK = QuantizeBenchmark.class.getName();
    private static final String[] FORK_JVM_ARGS = {"--add-modules=jdk.incubator.vector", "-XX:+UseParallelGC"};

    private QuantizeBenchmarkMain() {
    }

    public static void main(String[] args) throws RunnerException, IOException {
        CommandLineOptions cmd;
        try {
            cmd = new CommandLineOptions(args);
        } catch (CommandLineOptionException e) {
            System.err.println("quantflow-bench: " + e.getMessage());
            System.exit(2);
            return;
        }
        if (cmd.shouldHelp()) {
            System.out.println("usage: java --add-modules jdk.incubator.vector -jar quantflow-bench.jar [JMH options] [benchmark regex]");
            System.out.println("defaults: -f 1 -wi 2 -w 1s -i 3 -r 1s; the copy baseline always runs. JMH options:");
            cmd.showHelp();
            return;
        }

        // The table reads time per operation: the mode and unit are fixed, the rest is overridable.
        ChainedOptionsBuilder options = new OptionsBuilder().parent(cmd)
                .mode(Mode.AverageTime)
                .timeUnit(TimeUnit.MILLISECONDS);
        if (!cmd.getForkCount().hasValue()) {
            options.forks(Integer.getInteger("bench.forks", 1));
        }
        if (!cmd.getWarmupIterations().hasValue()) {
            options.warmupIterations(Integer.getInteger("bench.warmupIterations", 2));
        }
        if (!cmd.getWarmupTime().hasValue()) {
            options.warmupTime(TimeValue.fromString(System.getProperty("bench.warmupTime", "1s")));
        }
        if (!cmd.getMeasurementIterations().hasValue()) {
            options.measurementIterations(Integer.getInteger("bench.iterations", 3));
        }
        if (!cmd.getMeasurementTime().hasValue()) {
            options.measurementTime(TimeValue.fromString(System.getProperty("bench.time", "1s")));
        }
        List<String> jvmArgs = new ArrayList<>(List.of(FORK_JVM_ARGS));
        if (Runtime.version().feature() >= 24 && !cmd.getJvm().hasValue()) {
            // JMH reads fields through sun.misc.Unsafe, which JDK 24+ warns about at every start
            jvmArgs.add("--sun-misc-unsafe-memory-access=allow");
        }
        cmd.getJvmArgsAppend().orElse(List.of()).forEach(jvmArgs::add);
        options.jvmArgsAppend(jvmArgs.toArray(String[]::new));
        if (cmd.getIncludes().isEmpty()) {
            options.include(Pattern.quote(BENCHMARK) + "\\..*");
        }
        // The ratios need the baseline of this very run.
        options.include(Pattern.quote(BENCHMARK) + "\\.copy$");

        printEnvironment();
        Collection<RunResult> results = new Runner(options.build()).run();
        System.out.println();
        System.out.print(table(results));
    }

    private static void printEnvironment() {
        System.out.println("quantflow CPU quantize benchmark");
        System.out.println("  jvm:        " + System.getProperty("java.vm.name") + " " + Runtime.version()
                + " (" + System.getProperty("java.home") + ")");
        System.out.println("  cpu:        " + cpuModel().orElse(System.getProperty("os.arch")) + ", "
                + Runtime.getRuntime().availableProcessors() + " processors");
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()) {
            System.out.println("  vector:     " + VectorBlockwiseQuantizer.lanes() + " float lanes; vectorization: "
                    + VectorizationProvider.get()
                    + "; bf16 decode: " + HalfFloats.bf16DecoderName());
        } else {
            System.out.println("  vector:     (launcher JVM runs without jdk.incubator.vector; the forks add it)");
        }
        System.out.println();
    }

    private static Optional<String> cpuModel() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
                    .filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).trim())
                    .findFirst();
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** One measured benchmark with what the table needs. */
    record Row(String method, Map<String, String> params, double msPerOp, double msError) {
        long elements() {
            return Long.parseLong(params.getOrDefault("rows", "0")) * Long.parseLong(params.getOrDefault("cols", "0"));
        }

        String tensorKey() {
            return params.get("rows") + "x" + params.get("cols");
        }

        double elementsPerSecond() {
            return elements() / (msPerOp / 1e3);
        }

        double bf16BytesPerSecond() {
            return 2 * elementsPerSecond();
        }

        String label() {
            return switch (method) {
                case "copy" -> "copy bf16 bytes (baseline)";
                case "decode" -> "decode only, " + params.get("impl");
                case "doubleQuantize" -> "double quant of absmax only";
                case "merge" -> "LoRA merge r=" + params.get("rank") + ", " + params.get("impl") + ", 1 thread";
                case "quantize" -> "quantize" + ("on".equals(params.get("errors")) ? "+errors" : "") + ", " + params.get("impl") + ", "
                        + ("all".equals(params.get("threads"))
                                ? "all threads (" + Runtime.getRuntime().availableProcessors() + ")"
                                : params.get("threads") + (params.get("threads").equals("1") ? " thread" : " threads"));
                default -> method;
            };
        }

        /** The quantize parameters other than {@code impl}: what a scalar and a vector row must share to be compared. */
        String pairKey() {
            Map<String, String> p = new TreeMap<>(params);
            p.remove("impl");
            return p.toString();
        }
    }

    static String table(Collection<RunResult> results) {
        List<Row> rows = new ArrayList<>();
        for (RunResult r : results) {
            BenchmarkParams bp = r.getParams();
            String name = bp.getBenchmark();
            Map<String, String> params = new LinkedHashMap<>();
            for (String key : bp.getParamsKeys()) {
                params.put(key, bp.getParam(key));
            }
            Result<?> primary = r.getPrimaryResult();
            double score = primary.getScore();
            double ms = toMillis(score, primary.getScoreUnit());
            double err = Double.isNaN(primary.getScoreError()) ? Double.NaN : toMillis(primary.getScoreError(), primary.getScoreUnit());
            rows.add(new Row(name.substring(name.lastIndexOf('.') + 1), params, ms, err));
        }
        rows.sort(Comparator.comparing(Row::tensorKey)
                .thenComparing(r -> order(r.method()))
                .thenComparing(r -> r.params().getOrDefault("threads", ""))
                .thenComparing(r -> r.params().getOrDefault("impl", ""))
                .thenComparing(r -> r.params().toString()));

        Map<String, Row> baselines = new LinkedHashMap<>();
        for (Row r : rows) {
            if (r.method().equals("copy")) {
                baselines.put(r.tensorKey(), r);
            }
        }

        StringBuilder out = new StringBuilder();
        String header = String.format(Locale.ROOT, "%-36s %17s %9s %10s %8s%n",
                "benchmark", "ms/op (+-err)", "G elem/s", "GB/s bf16", "vs copy");
        String lastTensor = null;
        for (Row r : rows) {
            if (!r.tensorKey().equals(lastTensor)) {
                lastTensor = r.tensorKey();
                out.append(String.format(Locale.ROOT, "bf16 tensor [%s, %s]: %.1f M elements, %.1f MB%s%n",
                        r.params().get("rows"), r.params().get("cols"), r.elements() / 1e6, 2 * r.elements() / 1e6,
                        quantizeSettings(rows, lastTensor)));
                out.append(header);
            }
            Row base = baselines.get(r.tensorKey());
            String vsCopy = base == null ? "-" : String.format(Locale.ROOT, "%.3fx", base.msPerOp() / r.msPerOp());
            out.append(String.format(Locale.ROOT, "%-36s %17s %9.3f %10.3f %8s%n",
                    r.label() + extraParams(r, rows), timeText(r), r.elementsPerSecond() / 1e9,
                    r.bf16BytesPerSecond() / 1e9, vsCopy));
        }
        out.append(String.format(Locale.ROOT,
                "(vs copy: throughput relative to the System.arraycopy baseline of this run; 1.000x = as fast as copying the bytes)%n"));

        List<String> speedups = new ArrayList<>();
        Map<String, Row> scalar = new LinkedHashMap<>();
        for (Row r : rows) {
            if ("scalar".equals(r.params().get("impl"))) {
                scalar.put(r.method() + r.pairKey(), r);
            }
        }
        for (Row r : rows) {
            if ("vector".equals(r.params().get("impl"))) {
                Row s = scalar.get(r.method() + r.pairKey());
                if (s != null) {
                    speedups.add(String.format(Locale.ROOT, "  vector/scalar, %s: %.2fx",
                            r.method().equals("decode") ? "decode only" : quantizeText(r) + ", " + threadText(r),
                            s.msPerOp() / r.msPerOp()));
                }
            }
        }
        for (Row r : rows) {
            if (r.method().equals("quantize") && !"1".equals(r.params().get("threads"))) {
                Map<String, String> single = new TreeMap<>(r.params());
                single.put("threads", "1");
                rows.stream()
                        .filter(o -> o.method().equals("quantize") && new TreeMap<>(o.params()).equals(single))
                        .findFirst()
                        .ifPresent(o -> speedups.add(String.format(Locale.ROOT, "  %s, %s, %s / 1 thread: %.2fx",
                                quantizeText(r), r.params().get("impl"), threadText(r), o.msPerOp() / r.msPerOp())));
            }
        }
        for (Row r : rows) {
            if (r.method().equals("quantize") && "on".equals(r.params().get("errors"))) {
                Map<String, String> off = new TreeMap<>(r.params());
                off.put("errors", "off");
                rows.stream()
                        .filter(o -> o.method().equals("quantize") && new TreeMap<>(o.params()).equals(off))
                        .findFirst()
                        .ifPresent(o -> speedups.add(String.format(Locale.ROOT,
                                "  error analysis cost, %s, %s: %+.1f%% time (%.3f vs %.3f ms/op without it)",
                                r.params().get("impl"), threadText(r), 100 * (r.msPerOp() / o.msPerOp() - 1), r.msPerOp(), o.msPerOp())));
            }
        }
        if (!speedups.isEmpty()) {
            out.append(String.format(Locale.ROOT, "%nspeedups and costs (same tensor, type, blocksize and chunk):%n"));
            speedups.forEach(s -> out.append(s).append(System.lineSeparator()));
        }
        return out.toString();
    }

    private static String quantizeSettings(List<Row> rows, String tensor) {
        return rows.stream()
                .filter(r -> r.tensorKey().equals(tensor) && r.method().equals("quantize"))
                .map(r -> "; " + r.params().get("type") + ", blocksize " + r.params().get("blocksize")
                        + ", chunks of " + r.params().get("chunk") + " elements")
                .distinct()
                .reduce((a, b) -> a.equals(b) ? a : "")
                .orElse("");
    }

    /** Parameters a row has beyond the defaults the label and header already say. */
    private static String extraParams(Row r, List<Row> rows) {
        if (!r.method().equals("quantize")) {
            return "";
        }
        long variants = rows.stream()
                .filter(o -> o.method().equals("quantize") && o.tensorKey().equals(r.tensorKey()))
                .map(o -> o.params().get("type") + "/" + o.params().get("blocksize") + "/" + o.params().get("chunk"))
                .distinct().count();
        return variants <= 1 ? "" : " [" + r.params().get("type") + " bs" + r.params().get("blocksize")
                + " chunk " + r.params().get("chunk") + "]";
    }

    private static String quantizeText(Row r) {
        return "on".equals(r.params().get("errors")) ? "quantize+errors" : "quantize";
    }

    private static String threadText(Row r) {
        String t = r.params().get("threads");
        return "all".equals(t) ? "all threads" : t + ("1".equals(t) ? " thread" : " threads");
    }

    private static String timeText(Row r) {
        return Double.isNaN(r.msError())
                ? String.format(Locale.ROOT, "%.3f", r.msPerOp())
                : String.format(Locale.ROOT, "%.3f +-%.3f", r.msPerOp(), r.msError());
    }

    private static int order(String method) {
        return switch (method) {
            case "copy" -> 0;
            case "decode" -> 1;
            case "doubleQuantize" -> 2;
            default -> 3;
        };
    }

    private static double toMillis(double value, String unit) {
        return switch (unit) {
            case "ns/op" -> value / 1e6;
            case "us/op" -> value / 1e3;
            case "ms/op" -> value;
            case "s/op" -> value * 1e3;
            default -> throw new IllegalStateException("unexpected score unit " + unit + " (the table needs time per operation)");
        };
    }
}
