package io.quantflow.cli;

import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.DynamicBudget;
import io.quantflow.core.quality.DynamicSelection;
import io.quantflow.core.quality.Quality;
import io.quantflow.core.quality.TensorQuality;
import io.quantflow.core.convert.IfExists;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.convert.OutputFormat;
import io.quantflow.core.convert.QuantOptions;
import io.quantflow.core.convert.Sizes;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.quant.Quantizers;
import io.quantflow.core.safetensors.DType;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "convert", sortOptions = false,
        description = {"Converts a model directory into a bitsandbytes 4-bit checkpoint that transformers loads as is.",
                "The output is written beside TARGET and moved into place when complete; it holds quantflow-manifest.json."})
final class ConvertCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SOURCE", description = "Model directory: config.json and model.safetensors (or shards with model.safetensors.index.json).")
    Path source;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "TARGET", description = "Output directory (must not exist or be empty).")
    Path target;

    @Option(names = "--adapter", paramLabel = "ADAPTER", description = "A PEFT LoRA adapter directory (adapter_config.json, adapter_model.safetensors) to merge or export.")
    Path adapter;

    @Option(names = "--format", defaultValue = "bnb-4bit", split = ",", paramLabel = "FORMAT",
            description = "bnb-4bit (default), merged-16bit, merged-4bit or lora; several, comma-separated, read the source once and go to TARGET/<format>.")
    List<String> formats = new ArrayList<>();

    @Option(names = "--dtype", description = "bfloat16 or float16: the dtype of merged outputs (default: the base's).")
    String dtype;

    @Option(names = "--quant-type", defaultValue = "nf4", description = "nf4 or fp4 (default: ${DEFAULT-VALUE}).")
    String quantType;

    @Option(names = "--double-quant", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Quantize the absmax values to 8 bits too (default: on; --no-double-quant turns it off).")
    boolean doubleQuant;

    @Option(names = "--blocksize", defaultValue = "64", description = "Values per absmax block: a power of two from 32 to 4096 (default: ${DEFAULT-VALUE}).")
    int blocksize;

    @Option(names = "--compute-dtype", defaultValue = "bfloat16", description = "bfloat16, float16 or float32 (recorded for transformers; default: ${DEFAULT-VALUE}).")
    String computeDtype;

    @Option(names = "--skip-modules", split = ",", paramLabel = "MODULE", description = "Modules to keep in 16 bit, comma-separated (lm_head is always kept).")
    List<String> skipModules = new ArrayList<>();

    @Option(names = "--dynamic", description = {"Keep in 16 bit the weights that 4 bits hurt most, as many as the budget allows",
            "(--max-bits-per-param or --max-size): measures every weight first, then converts."})
    boolean dynamic;

    @Option(names = "--max-bits-per-param", paramLabel = "B",
            description = "With --dynamic: weight files at most B x parameters / 8 bytes (the bits/param the manifest reports).")
    Double maxBitsPerParam;

    @Option(names = "--max-size", paramLabel = "BYTES", description = "With --dynamic: weight files at most BYTES bytes.")
    Long maxSize;

    @Option(names = "--if-exists", defaultValue = "fail", description = "fail or overwrite, when TARGET holds files (default: ${DEFAULT-VALUE}).")
    String ifExists;

    @Option(names = "--device", defaultValue = "auto", description = "auto, cpu or gpu (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--threads", defaultValue = "0", description = "Worker threads (default: one per core).")
    int threads;

    @Option(names = {"-v", "--verbose"}, description = "Say which quantizer runs and why.")
    boolean verbose;

    @Mixin
    CommonOptions common;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        Converter.Request request = request();
        PrintStream err = System.err;
        if (verbose) {
            String why = Quantizers.fallbackReason();
            err.println(why == null ? "quantizer: Vector API" : "quantizer: scalar reference, because " + why);
        }
        List<Manifest> manifests = run(request, err);
        for (int i = 0; i < manifests.size(); i++) {
            Path where = manifests.size() == 1 ? target : target.resolve(request.formats().get(i).id());
            printSummary(System.out, source, where, manifests.get(i));
        }
        return 0;
    }

    static List<Manifest> run(Converter.Request request, PrintStream err) {
        ProgressBar bar = new ProgressBar(err, "converting");
        Converter.Listener listener = new Converter.Listener() {
            @Override
            public void started(long totalBytes) {
                bar.total(totalBytes);
            }

            @Override
            public void progress(long doneBytes) {
                bar.update(doneBytes);
            }
        };
        try {
            return new Converter().convert(request, listener).manifests();
        } finally {
            bar.done();
        }
    }

    Converter.Request request() {
        List<OutputFormat> fmts = parse(() -> formats.stream().map(OutputFormat::parse).toList());
        DType mergedDtype = null;
        if (dtype != null) {
            mergedDtype = DType.fromTorchName(dtype.toLowerCase(Locale.ROOT)).filter(d -> d != DType.F32).orElseThrow(() ->
                    new CommandLine.ParameterException(spec.commandLine(), "--dtype must be bfloat16 or float16, not '" + dtype + "'"));
        }
        QuantType qt = parse(() -> QuantType.parse(quantType));
        DType compute = DType.fromTorchName(computeDtype.toLowerCase(Locale.ROOT)).orElseThrow(() ->
                new CommandLine.ParameterException(spec.commandLine(), "--compute-dtype must be bfloat16, float16 or float32, not '" + computeDtype + "'"));
        IfExists ie = parse(() -> IfExists.valueOf(ifExists.toUpperCase(Locale.ROOT)), "--if-exists must be fail or overwrite, not '" + ifExists + "'");
        QuantOptions options = parse(() -> new QuantOptions(qt, doubleQuant, blocksize, compute, skipModules.stream().map(String::trim).toList()));
        switch (device.toLowerCase(Locale.ROOT)) {
            case "auto", "cpu" -> {
            }
            case "gpu" -> throw new QuantflowException(ErrorCode.INVALID_REQUEST,
                    "--device gpu: no CUDA device was found (this build quantizes on the CPU; use --device cpu or auto)");
            default -> throw new CommandLine.ParameterException(spec.commandLine(), "--device must be auto, cpu or gpu, not '" + device + "'");
        }
        if (threads < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--threads must be positive");
        }
        DynamicBudget budget = null;
        if (dynamic) {
            if ((maxBitsPerParam == null) == (maxSize == null)) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--dynamic needs one budget: --max-bits-per-param B or --max-size BYTES");
            }
            budget = parse(() -> new DynamicBudget(maxBitsPerParam, maxSize));
        } else if (maxBitsPerParam != null || maxSize != null) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    (maxSize != null ? "--max-size" : "--max-bits-per-param") + " is the budget of --dynamic; add --dynamic");
        }
        return new Converter.Request(source, adapter, target, fmts, options, mergedDtype, ie, threads, budget);
    }

    private <T> T parse(java.util.function.Supplier<T> s) {
        return parse(s, null);
    }

    private <T> T parse(java.util.function.Supplier<T> s, String message) {
        try {
            return s.get();
        } catch (QuantflowException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), message != null ? message : e.getMessage());
        }
    }

    static void printSummary(PrintStream out, Path source, Path target, Manifest m) {
        Manifest.Options o = m.options();
        if (o != null) {
            out.printf(Locale.ROOT, "converted %s -> %s (%s %s%s, blocksize %d)%n", source, target,
                    m.format(), o.quantType(), o.doubleQuant() ? "+double quant" : "", o.blocksize());
            out.printf(Locale.ROOT, "  %d tensors quantized (%s parameters), %d kept in 16 bit%n",
                    m.output().quantizedTensors(), count(m.output().quantizedParameters()), m.output().keptTensors());
        } else {
            out.printf(Locale.ROOT, "converted %s -> %s (%s)%n", source, target, m.format());
        }
        if (m.quality() != null) {
            Quality q = m.quality();
            out.printf(Locale.ROOT, "  error: mean relative RMS %.4f (parameter-weighted), worst weight %.4f; see quantflow report%n",
                    q.meanRelativeRms(), q.maxRelativeRms());
            DynamicSelection d = q.dynamic();
            if (d != null) {
                printDynamic(out, d, q);
            }
        }
        if (m.adapter() != null) {
            out.printf(Locale.ROOT, "  adapter %s: %d LoRA modules (r=%d, alpha=%s%s%s)%s%n", m.adapter().path(), m.adapter().modules(),
                    m.adapter().r(), PythonNumber.of(m.adapter().loraAlpha()), m.adapter().useRslora() ? ", rslora" : "",
                    m.adapter().useDora() ? ", DoRA" : "",
                    m.adapter().replacedTensors() > 0 ? ", " + m.adapter().replacedTensors() + " tensors replaced" : "");
        }
        if (m.output().requantizationError() != null) {
            out.printf(Locale.ROOT, "  warning: the base was already 4-bit; quantizing the merged weights again adds %.2f%% relative RMS error%n",
                    m.output().requantizationError() * 100);
        }
        out.printf(Locale.ROOT, "  %s %s -> %s, %.2f bits/param%n", m.source().dtype(), Sizes.human(m.source().weightBytes()),
                Sizes.human(m.output().weightBytes()), m.output().bitsPerParameter());
        double secs = Math.max(1, m.timings().totalMillis()) / 1000.0;
        out.printf(Locale.ROOT, "  %d files + manifest in %.1f s (%s/s of source)%n", m.files().size(), secs,
                Sizes.human((long) (m.source().weightBytes() / secs)));
    }

    /** What --dynamic kept in 16 bit, and what that bought. */
    static void printDynamic(PrintStream out, DynamicSelection d, Quality q) {
        out.printf(Locale.ROOT, "  dynamic (budget %s): %d weight%s kept in 16 bit%s%n", d.budget(), d.keptModules().size(),
                d.keptModules().size() == 1 ? "" : "s", d.keptModules().isEmpty() ? " (the budget holds no more than 4 bits everywhere)" : ":");
        for (String module : d.keptModules()) {
            Double e = q.tensors().stream().filter(t -> t.name().equals(module + ".weight")).findFirst()
                    .map(TensorQuality::relativeRmsIfQuantized).orElse(null);
            out.printf(Locale.ROOT, "    %s%s%n", module, e == null ? "" : String.format(Locale.ROOT, "  (4-bit error %.4f)", e));
        }
        out.printf(Locale.ROOT, "    planned %.3f bits/param (every weight in 4 bit: %.3f); mean error %.4f -> %.4f,"
                        + " %.1f%% removed, %.1f%% per extra bit/param (same shapes at random: %.4f)%n",
                d.bitsPerParameter(), d.baselineBitsPerParameter(), d.baselineMeanRelativeRms(), d.meanRelativeRms(),
                100 * d.errorRemovedShare(), 100 * d.errorRemovedSharePerExtraBit(), d.randomSameShapeMeanRelativeRms());
    }

    /** Numbers as people write them: 16, not 16.0. */
    static final class PythonNumber {
        static String of(double d) {
            return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
        }
    }

    static String count(long n) {
        if (n >= 1_000_000_000L) {
            return String.format(Locale.ROOT, "%.2fB", n / 1e9);
        }
        if (n >= 1_000_000L) {
            return String.format(Locale.ROOT, "%.1fM", n / 1e6);
        }
        return Long.toString(n);
    }
}
