package io.quantflow.cli;

import io.quantflow.core.convert.ConversionPlan;
import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.TensorSpec;
import io.quantflow.core.synth.ModelShape;
import io.quantflow.core.synth.SyntheticCheckpoint;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.util.Sizes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "demo", mixinStandardHelpOptions = true, versionProvider = QuantflowCommand.Version.class, description = {"Converts a small synthetic Llama-shaped checkpoint to nf4 and fp4 and prints the sizes per format.",
        "The sizes are measured here and projected for real model sizes."})
final class DemoCommand implements Callable<Integer> {
    @Option(names = {"-o", "--out"}, defaultValue = "demo-output", paramLabel = "DIR", description = "Where to put the demo's files (default: ${DEFAULT-VALUE}; replaced on each run).")
    Path dir;

    @Option(names = "--shape", defaultValue = "llama-160m", description = "Shape of the synthetic model (default: ${DEFAULT-VALUE}).")
    String shape;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() {
        PrintStream out = System.out;
        ModelShape s = ModelShape.named(shape);
        Path source = dir.resolve(s.name() + "-bf16");
        out.printf(Locale.ROOT, "quantflow demo: a synthetic %s (%s parameters, bf16) in %s%n%n", s.name(),
                Numbers.count(s.parameters()), source);
        SyntheticCheckpoint.write(s, DType.BF16, 0, source, SyntheticCheckpoint.DEFAULT_MAX_SHARD_BYTES, IfExists.OVERWRITE, n -> {
        });
        long sourceBytes = s.tensors(DType.BF16).stream().mapToLong(TensorSpec::byteSize).sum();
        out.println("format                     output                          size       bits/param  time");
        out.printf(Locale.ROOT, "%-26s %-31s %-10s %6.2f%n", "bfloat16 (source)", source, Sizes.human(sourceBytes), 16.0);
        for (QuantOptions o : List.of(QuantOptions.defaults(), new QuantOptions(QuantType.FP4, false, 64, DType.BF16, List.of()))) {
            Path target = dir.resolve(s.name() + "-" + o.quantType().id() + (o.doubleQuant() ? "-dq" : ""));
            Manifest m = ShowingProgress.convert(Converter.Request.bnb4bit(source, target, o, IfExists.OVERWRITE, 0), System.err).get(0);
            out.printf(Locale.ROOT, "%-26s %-31s %-10s %6.2f      %.1f s%n", "bnb-4bit " + InspectCommand.describe(o), target,
                    Sizes.human(m.output().weightBytes()), m.output().bitsPerParameter(), m.timings().totalMillis() / 1000.0);
        }
        out.println();
        out.println("The same conversions at real sizes (from the architectures' shapes; embeddings and lm_head stay 16-bit):");
        for (String big : List.of("llama-1b", "llama-8b", "llama-70b")) {
            ModelShape b = ModelShape.named(big);
            List<TensorSpec> t = b.tensors(DType.BF16);
            long bf16 = t.stream().mapToLong(TensorSpec::byteSize).sum();
            long nf4 = ConversionPlan.estimateWeightBytes(t, new OutputSpec(Formats.BNB_4BIT, "", QuantOptions.defaults(), null));
            out.printf(Locale.ROOT, "  %-10s bf16 %-8s -> nf4+double quant %-8s %.2f bits/param%n", b.name(), Sizes.human(bf16),
                    Sizes.human(nf4), nf4 * 8.0 / b.parameters());
        }
        out.println();
        out.println("Load one with transformers: AutoModelForCausalLM.from_pretrained(\"" + dir.resolve(s.name() + "-nf4-dq") + "\")");
        return 0;
    }
}
