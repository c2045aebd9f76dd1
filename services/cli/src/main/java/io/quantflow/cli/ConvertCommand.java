package io.quantflow.cli;

import io.quantflow.core.convert.Backends;
import io.quantflow.core.convert.ConversionOptions;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.job.ConversionJob;
import io.quantflow.core.job.JobRunner;
import io.quantflow.core.job.JobSettings;
import io.quantflow.core.quant.VectorizationProvider;
import io.quantflow.core.source.HubSettings;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.source.VariantMap;
import io.quantflow.core.storage.S3Settings;
import io.quantflow.core.target.HubPublishOptions;
import io.quantflow.core.target.HubTarget;
import io.quantflow.core.target.IfExists;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

@Command(name = "convert", sortOptions = false, mixinStandardHelpOptions = true, versionProvider = QuantflowCommand.Version.class,
        description = {"Converts a model into the artifacts people deploy: bitsandbytes 4- or 8-bit, merged 16-bit, a LoRA adapter, GGUF, compressed-tensors.",
                "SOURCE is a model directory, hf://org/name[@revision], s3://bucket/prefix or file:///dir.",
                "The output is written beside TARGET (or staged, for s3://) and appears only when complete; it holds quantflow-manifest.json."})
final class ConvertCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SOURCE", description = "The model: a directory (config.json and model.safetensors, or shards with model.safetensors.index.json), hf://org/name[@revision], s3://bucket/prefix or file:///dir.")
    String source;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "TARGET", description = "Output directory (must not exist or be empty), s3://bucket/prefix (must hold no objects) or hf://org/name[@branch] (a Hub repository that holds no weights; HF_TOKEN with the write role).")
    String target;

    @Option(names = "--private", description = "With --out hf://: create the repository private when it does not exist yet.")
    boolean privateRepo;

    @Option(names = "--create-pr", description = "With --out hf://: commit to a new pull request instead of the branch.")
    boolean createPr;

    @Option(names = "--adapter", paramLabel = "ADAPTER", description = "A PEFT LoRA adapter (adapter_config.json, adapter_model.safetensors) to merge or export: a directory, hf://, s3:// or file://.")
    String adapter;

    @Mixin
    ConversionFlags conversion;

    @Option(names = "--threads", defaultValue = "0", description = "Worker threads (default: one per core).")
    int threads;

    @Option(names = "--hub-endpoint", paramLabel = "URL", description = "The Hugging Face Hub's URL (default: HF_ENDPOINT, else https://huggingface.co). The token is read from HF_TOKEN only.")
    String hubEndpoint;

    @Option(names = "--cache-dir", paramLabel = "DIR", description = "Where downloads and converted models are cached (default: QUANTFLOW_CACHE, else ~/.cache/quantflow).")
    Path cacheDir;

    @Option(names = "--no-cache", description = "Convert even when the conversion cache holds this conversion (the new result replaces the cached one).")
    boolean noCache;

    @Option(names = "--variants", paramLabel = "FILE", description = "Pre-quantized variants ('org/model -> org/model-bnb-4bit' lines) that may stand in for a bnb-4bit conversion of an hf:// model (default: QUANTFLOW_VARIANTS).")
    Path variants;

    @Option(names = "--exact-model-name", description = "Quantize the model asked for even when the variants file names a pre-quantized variant of it.")
    boolean exactModelName;

    @Option(names = "--download-threads", defaultValue = "4", paramLabel = "N", description = "Files downloaded or uploaded at once (default: ${DEFAULT-VALUE}).")
    int downloadThreads;

    @Option(names = "--s3-endpoint", paramLabel = "URL", description = "S3 endpoint (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS).")
    String s3Endpoint;

    @Option(names = "--s3-region", paramLabel = "REGION", description = "S3 region (default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1).")
    String s3Region;

    @Option(names = "--s3-profile", paramLabel = "NAME", description = "Profile of the AWS credentials file when AWS_ACCESS_KEY_ID is not set (default: AWS_PROFILE, else default).")
    String s3Profile;

    @Option(names = "--s3-path-style", negatable = true, description = "Path-style S3 URLs (http://host/bucket/key); default: on when an S3 endpoint is set.")
    Boolean s3PathStyle;

    @Option(names = {"-v", "--verbose"}, description = "Say which quantizer runs and why.")
    boolean verbose;

    @CommandLine.ParentCommand
    QuantflowCommand parent;

    @Mixin
    CommonOptions common;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        ConversionJob job = job();
        PrintStream err = System.err;
        if (verbose) {
            err.println(Backends.explain(job.options().device()));
            err.println("cpu quantizer: " + VectorizationProvider.get().describe());
        }
        Map<String, String> env = parent == null ? System.getenv() : parent.environment();
        JobRunner.Outcome outcome;
        try (JobRunner runner = new JobRunner(settings(env))) {
            outcome = ShowingProgress.run(runner, job, err);
        }
        List<Manifest> manifests = outcome.manifests();
        for (int i = 0; i < manifests.size(); i++) {
            String where = manifests.size() == 1 ? job.target().uri() : job.target().uri() + "/" + job.options().formats().get(i).id();
            Manifest m = manifests.get(i);
            String from = outcome.variant() != null ? outcome.variant().used() : job.source().uri();
            Summary.print(System.out, from, where, m);
            if (m.source().revision() != null && outcome.variant() == null) {
                System.out.printf(Locale.ROOT, "  source %s pinned to commit %s%n", job.source().uri(), m.source().revision());
            }
            if (outcome.variant() != null) {
                System.out.printf(Locale.ROOT, "  variant: the pre-quantized %s was copied instead of quantizing %s (variants file %s;"
                        + " --exact-model-name quantizes it)%n", outcome.variant().used(), outcome.variant().requested(),
                        outcome.variant().variantsFile());
            }
            System.out.printf(Locale.ROOT, "  cached: %s%n", outcome.cached()
                    ? "true (from the conversion cache; --no-cache converts again)" : "false");
        }
        if (outcome.published() != null) {
            HubTarget.Published p = outcome.published();
            System.out.printf(Locale.ROOT, "  published: hf://%s@%s commit %s%s%n", p.repo(), p.branch(), p.commit(),
                    p.pullRequestUrl() == null ? "" : " (pull request " + p.pullRequestUrl() + ")");
        }
        return 0;
    }

    /** Cache, Hub, S3 and variants settings from the options and the environment. */
    JobSettings settings(Map<String, String> env) {
        if (downloadThreads < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--download-threads must be positive");
        }
        HubSettings hub = HubSettings.from(hubEndpoint, env, downloadThreads);
        Supplier<S3Settings> s3 = () -> S3Settings.from(s3Endpoint, s3Region, s3Profile, s3PathStyle, env, downloadThreads);
        Path variantsFile = variants;
        if (variantsFile == null && env.get("QUANTFLOW_VARIANTS") != null && !env.get("QUANTFLOW_VARIANTS").isBlank()) {
            variantsFile = Path.of(env.get("QUANTFLOW_VARIANTS"));
        }
        VariantMap map = variantsFile == null ? VariantMap.NONE : VariantMap.read(variantsFile);
        return new JobSettings(JobSettings.cacheRoot(cacheDir, env), hub, s3, map);
    }

    ConversionJob job() {
        if (threads < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--threads must be positive");
        }
        IfExists ifExists = conversion.ifExists(spec);
        ConversionOptions options = conversion.options(spec);
        ModelLocation src = ModelLocation.parse(source);
        ModelLocation out = ModelLocation.parse(target);
        ModelLocation ad = adapter == null ? null : ModelLocation.parse(adapter);
        if ((privateRepo || createPr) && !(out instanceof ModelLocation.Hub)) {
            throw new CommandLine.ParameterException(spec.commandLine(), (privateRepo ? "--private" : "--create-pr")
                    + " applies to an hf:// target only");
        }
        return new ConversionJob(src, ad, out, options, ifExists, threads, !noCache, exactModelName,
                new HubPublishOptions(privateRepo, createPr, null));
    }
}
