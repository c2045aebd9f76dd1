package io.quantflow.cli;

import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.TensorSpec;
import io.quantflow.core.synth.ModelShape;
import io.quantflow.core.synth.SyntheticCheckpoint;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.util.Sizes;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;

@Command(name = "synth", mixinStandardHelpOptions = true, versionProvider = QuantflowCommand.Version.class, description = {"Writes a synthetic checkpoint with a real architecture's shapes and random weights.",
        "--plant-outliers N gives the attention output projection of N layers outlier columns (values 32 std out)."})
final class SynthCommand implements Callable<Integer> {
    @Option(names = "--shape", required = true, description = "tiny-llama, llama-160m, byte-llama, llama-1b, llama-8b or llama-70b.")
    String shape;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "DIR", description = "Output directory (must not exist or be empty).")
    Path out;

    @Option(names = "--dtype", defaultValue = "bfloat16", description = "bfloat16, float16 or float32 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--seed", defaultValue = "0", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--max-shard-size", defaultValue = "5000000000", paramLabel = "BYTES", description = "Largest shard (default: 5 GB).")
    long maxShard;

    @Option(names = "--plant-outliers", defaultValue = "0", paramLabel = "N",
            description = "Plant outlier columns in self_attn.o_proj of N layers spread over the depth (default: none).")
    int plantOutliers;

    @Option(names = "--if-exists", defaultValue = "fail", description = "fail or overwrite (default: ${DEFAULT-VALUE}).")
    String ifExists;

    @Mixin
    CommonOptions common;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        ModelShape s;
        DType d;
        IfExists ie;
        List<String> outliers;
        try {
            s = ModelShape.named(shape);
            outliers = s.outlierTensors(plantOutliers);
            d = DType.fromTorchName(dtype.toLowerCase(Locale.ROOT)).orElseThrow(() -> new IllegalArgumentException("--dtype must be bfloat16, float16 or float32"));
            ie = IfExists.valueOf(ifExists.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        if (maxShard < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--max-shard-size must be positive");
        }
        long bytes = s.tensors(d).stream().mapToLong(TensorSpec::byteSize).sum();
        ProgressBar bar = new ProgressBar(System.err, "writing");
        bar.total(bytes);
        AtomicLong done = new AtomicLong();
        long t0 = System.nanoTime();
        try {
            SyntheticCheckpoint.write(s, d, seed, out, maxShard, ie, Set.copyOf(outliers), n -> bar.update(done.addAndGet(n)));
        } finally {
            bar.done();
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf(Locale.ROOT, "wrote %s: %s, %s parameters, %s %s in %.1f s (%s/s)%n", out, s.name(),
                Numbers.count(s.parameters()), Sizes.human(bytes), d.torchName(), secs, Sizes.human((long) (bytes / secs)));
        for (String t : outliers) {
            System.out.println("  outlier columns planted in " + t);
        }
        return 0;
    }
}
