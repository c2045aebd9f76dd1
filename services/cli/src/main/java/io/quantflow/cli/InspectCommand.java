package io.quantflow.cli;

import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.convert.ConversionPlan;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.safetensors.TensorSpec;
import io.quantflow.core.util.Sizes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "inspect", mixinStandardHelpOptions = true, versionProvider = QuantflowCommand.Version.class, description = "Lists a model's tensors and the size each output format would take.")
final class InspectCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SOURCE", description = "Model directory.")
    Path source;

    @Option(names = "--summary", description = "Only the totals and sizes, no tensor list.")
    boolean summary;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() {
        PrintStream out = System.out;
        try (Checkpoint c = Checkpoint.open(source)) {
            Map<String, TensorInfo> tensors = c.tensors();
            if (!summary) {
                int width = tensors.keySet().stream().mapToInt(String::length).max().orElse(10);
                for (TensorInfo t : tensors.values()) {
                    out.printf(Locale.ROOT, "%-" + width + "s  %-5s %s%n", t.name(), t.dtype(), Arrays.toString(t.shape()));
                }
                out.println();
            }
            out.printf(Locale.ROOT, "%s: %d tensors in %d shard%s, %s parameters, %s (%s)%n", source, tensors.size(),
                    c.shards().size(), c.shards().size() == 1 ? "" : "s", Numbers.count(c.parameters()),
                    Sizes.human(c.weightBytes()), c.dominantDtype().torchName());
            List<TensorSpec> specs = new ArrayList<>();
            tensors.values().forEach(t -> specs.add(new TensorSpec(t.name(), t.dtype(), t.shape())));
            printSizes(out, specs, c.parameters());
        }
        return 0;
    }

    /** The size table: 16-bit and 32-bit as they are, then each 4-bit variant. */
    static void printSizes(PrintStream out, List<TensorSpec> tensors, long parameters) {
        out.println("format                      size       bits/param");
        long fp32 = parameters * 4;
        row(out, "float32", fp32, parameters);
        row(out, "bfloat16 / float16", parameters * 2, parameters);
        for (QuantOptions o : variants()) {
            row(out, "bnb-4bit " + describe(o), ConversionPlan.estimateWeightBytes(tensors, new OutputSpec(Formats.BNB_4BIT, "", o, null)), parameters);
        }
    }

    static List<QuantOptions> variants() {
        return List.of(new QuantOptions(QuantType.NF4, true, 64, DType.BF16, List.of()),
                new QuantOptions(QuantType.NF4, false, 64, DType.BF16, List.of()),
                new QuantOptions(QuantType.FP4, true, 64, DType.BF16, List.of()),
                new QuantOptions(QuantType.FP4, false, 64, DType.BF16, List.of()));
    }

    static String describe(QuantOptions o) {
        return o.quantType().id() + (o.doubleQuant() ? "+double quant" : "");
    }

    private static void row(PrintStream out, String name, long bytes, long params) {
        out.printf(Locale.ROOT, "%-27s %-10s %5.2f%n", name, Sizes.human(bytes), bytes * 8.0 / Math.max(1, params));
    }
}
