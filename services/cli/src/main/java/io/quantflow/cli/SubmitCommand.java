package io.quantflow.cli;

import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.convert.ConversionOptions;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.lora.LoraAdapter;
import io.quantflow.core.pipeline.events.Answers;
import io.quantflow.core.pipeline.events.CloudEvent;
import io.quantflow.core.pipeline.events.ConversionRequest;
import io.quantflow.core.pipeline.events.EventTypes;
import io.quantflow.core.pipeline.events.Stage;
import io.quantflow.core.pipeline.events.TargetRef;
import io.quantflow.core.pipeline.stage.OutputOptions;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.storage.ObjectInfo;
import io.quantflow.core.storage.Role;
import io.quantflow.core.storage.S3Bucket;
import io.quantflow.core.storage.S3Settings;
import io.quantflow.core.storage.S3Storage;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.util.FileTrees;
import io.quantflow.core.util.Sizes;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * {@code quantflow submit}: the same conversion as {@code convert}, done by the pipeline. Publishes a
 * conversion-requested event, shows progress, waits for the one answer and exits like convert (0,
 * or 3 with {@code error: CODE: message}).
 */
@Command(name = "submit", sortOptions = false, mixinStandardHelpOptions = true, versionProvider = QuantflowCommand.Version.class,
        description = {"Has the pipeline (scripts/stack up, or a deployment) convert a model, as convert does here.",
                "Publishes conversion-requested on Kafka, shows progress, waits for conversion-completed or conversion-failed",
                "and exits like convert.",
                "SOURCE is s3://bucket/prefix, hf://org/name[@revision], or a local directory (uploaded to the work bucket first)."})
final class SubmitCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SOURCE", description = "The model: s3://bucket/prefix, hf://org/name[@revision] or a local directory.")
    String source;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "TARGET", description = "Where the pipeline writes the artifact: s3://bucket/prefix, or hf://org/name[@branch] (one commit; the publisher's HF_TOKEN needs the write role).")
    String target;

    @Option(names = "--private", description = "With --out hf://: the pipeline creates the repository private when it does not exist yet.")
    boolean privateRepo;

    @Option(names = "--create-pr", description = "With --out hf://: the pipeline commits to a new pull request instead of the branch.")
    boolean createPr;

    @Option(names = "--adapter", paramLabel = "ADAPTER", description = "A PEFT LoRA adapter: s3://, hf:// or a local directory (uploaded first).")
    String adapter;

    @Mixin
    ConversionFlags conversion;

    @Option(names = "--bootstrap", paramLabel = "HOST:PORT", description = "Kafka bootstrap servers (default: kafka.bootstrap of the stack file).")
    String bootstrap;

    @Option(names = "--stack", paramLabel = "FILE", description = "The stack's endpoints (default: QUANTFLOW_STACK_FILE, else .stack/stack.properties).")
    Path stackFile;

    @Option(names = "--request-id", paramLabel = "ID", description = "The idempotency key: submitting the same request with the same id again gets the same answer (default: a new id).")
    String requestId;

    @Option(names = "--download", paramLabel = "DIR", description = "Copy the finished artifact to DIR (each file's sha256 checked against the manifest).")
    Path download;

    @Option(names = "--timeout", defaultValue = "3600", paramLabel = "SECONDS", description = "Give up waiting for the answer after this long (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @CommandLine.ParentCommand
    QuantflowCommand parent;

    @Mixin
    CommonOptions common;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Whether anything was uploaded to the staging prefix (removed again once answered). */
    private boolean uploaded;

    @Override
    public Integer call() {
        Map<String, String> env = parent == null ? System.getenv() : parent.environment();
        IfExists ifExists = conversion.ifExists(spec);
        ConversionOptions checked = conversion.options(spec);
        ModelLocation out = ModelLocation.parse(target);
        if (out instanceof ModelLocation.Local) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--out must be s3://bucket/prefix or hf://org/name[@branch]:"
                    + " the pipeline writes to the object store or the Hub");
        }
        if ((privateRepo || createPr) && !(out instanceof ModelLocation.Hub)) {
            throw new CommandLine.ParameterException(spec.commandLine(), (privateRepo ? "--private" : "--create-pr")
                    + " applies to an hf:// target only");
        }
        if (download != null && out instanceof ModelLocation.Hub) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--download copies from the object store; with --out hf://"
                    + " the artifact is in the Hub repository (download it from there)");
        }
        if (download != null && Files.exists(download) && !isEmptyDir(download)) {
            throw QuantflowException.of(Reason.TARGET_NOT_EMPTY, download + " already holds files; --download needs a new or empty directory");
        }
        String rid = requestId != null ? requestId : "submit-" + UUID.randomUUID();
        StackEndpoints stack = StackEndpoints.resolve(stackFile, bootstrap, env);
        PrintStream err = System.err;
        try (S3Storage s3 = S3Storage.open(S3Settings.fromEnvironment(stack.s3Environment(), 4))) {
            String staging = "staging/" + rid + "/";
            try {
                String src = stageIfLocal(source, false, s3, stack.workBucket(), staging + "source/", err);
                String ad = adapter == null ? null : stageIfLocal(adapter, true, s3, stack.workBucket(), staging + "adapter/", err);
                ConversionRequest request = new ConversionRequest(rid, src, ad, OutputOptions.requests(checked),
                        new TargetRef(out.uri(), ifExists.name().toLowerCase(Locale.ROOT), privateRepo ? Boolean.TRUE : null,
                                createPr ? Boolean.TRUE : null));
                CloudEvent answer = submit(stack.bootstrap(), request, err);
                if (EventTypes.FAILED.equals(answer.type())) {
                    Answers.Failed f = answer.data(Answers.Failed.class);
                    throw QuantflowException.reported(code(f.code()), f.message());
                }
                Answers.Completed done = answer.data(Answers.Completed.class);
                for (Answers.CompletedOutput o : done.outputs()) {
                    Summary.print(System.out, source, o.uri(), o.manifest());
                    for (Manifest.FileEntry f : o.manifest().files()) {
                        System.out.printf(Locale.ROOT, "  %s  %s%n", f.sha256(), f.path());
                    }
                }
                if (done.commit() != null) {
                    System.out.printf(Locale.ROOT, "  published: hf://%s@%s commit %s%s%n", done.commit().repo(), done.commit().branch(),
                            done.commit().commit(), done.commit().pullRequestUrl() == null ? "" : " (pull request "
                                    + done.commit().pullRequestUrl() + ")");
                }
                if (download != null) {
                    download(s3, done, err);
                }
                return 0;
            } finally {
                if (uploaded) {
                    deleteStaged(s3, stack.workBucket(), staging);
                }
            }
        }
    }

    /** Removes what was uploaded for this request, if anything; best effort (the store may be what failed). */
    private static void deleteStaged(S3Storage s3, String bucket, String staging) {
        try {
            S3Bucket work = s3.bucket(Role.WORK, bucket);
            List<String> keys = work.list(staging).stream().map(ObjectInfo::key).toList();
            if (!keys.isEmpty()) {
                work.delete(keys);
            }
        } catch (QuantflowException e) {
            System.err.println("note: could not remove the uploaded copy at s3://" + bucket + "/" + staging + " (" + e.getMessage() + ")");
        }
    }

    /**
     * A local directory, checked as convert would read it (headers only) and uploaded to the work
     * bucket; an s3:// or hf:// location as it is.
     */
    private String stageIfLocal(String location, boolean isAdapter, S3Storage s3, String bucket, String prefix, PrintStream err) {
        if (!(ModelLocation.parse(location) instanceof ModelLocation.Local local)) {
            return location;
        }
        Path dir = local.dir();
        if (isAdapter) {
            LoraAdapter.open(dir).close();
        } else {
            Checkpoint.open(dir).close();
        }
        try (Stream<Path> files = Files.list(dir)) {
            List<Path> list = files.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith(".")).sorted().toList();
            long bytes = 0;
            for (Path p : list) {
                bytes += Files.size(p);
            }
            err.printf(Locale.ROOT, "uploading %s (%d files, %s) to s3://%s/%s%n", dir, list.size(), Sizes.human(bytes), bucket, prefix);
            for (Path p : list) {
                try {
                    s3.bucket(Role.WORK, bucket).upload(prefix + p.getFileName(), p);
                    uploaded = true;
                } catch (QuantflowException e) {
                    throw e.code() != ErrorCode.INTERNAL ? e : QuantflowException.of(e.reason(), e.getMessage()
                            + "; is the pipeline's store up? (scripts/stack status)", e);
                }
            }
        } catch (IOException e) {
            throw QuantflowException.of(Reason.SOURCE_UNREADABLE, "cannot read " + dir + ": " + e.getMessage());
        }
        return "s3://" + bucket + "/" + prefix.substring(0, prefix.length() - 1);
    }

    /** Publishes the request and waits for its answer, printing progress. */
    private CloudEvent submit(String bootstrap, ConversionRequest request, PrintStream err) {
        CloudEvent event = CloudEvent.of(EventTypes.REQUESTED, "urn:quantflow:cli", UUID.randomUUID().toString(), request.requestId(),
                request);
        return KafkaRequests.exchange(bootstrap, request.requestId(), event, Duration.ofSeconds(timeoutSeconds),
                () -> err.println("submitted request " + request.requestId() + " to " + bootstrap), p -> printProgress(p, err));
    }

    private static void printProgress(Answers.Progress p, PrintStream err) {
        if (p.stage() == Stage.PUBLISH && p.shard() == null) {
            err.printf(Locale.ROOT, "publish: uploaded %s of %s%n", Sizes.human(p.bytesDone()), Sizes.human(p.bytesTotal()));
        } else if (p.shard() == null) {
            err.printf(Locale.ROOT, "%s: planned (%s of weights)%n", p.stage(), Sizes.human(p.bytesTotal()));
        } else if (p.stage() == Stage.PUBLISH) {
            err.printf(Locale.ROOT, "publish: %d of %d shards in%n", p.bytesDone(), p.bytesTotal());
        } else if (p.bytesDone() >= p.bytesTotal()) {
            err.printf(Locale.ROOT, "%s %s: shard %d/%d %s done%n", p.stage(), p.format(), p.shard().index() + 1, p.shard().count(),
                    p.shard().file());
        }
    }

    /** Copies each output into DIR (or DIR/format with several), checking every file's sha256; the manifest last. */
    private void download(S3Storage s3, Answers.Completed done, PrintStream err) {
        Path staging = download.toAbsolutePath().resolveSibling("." + download.getFileName() + ".partial-" + UUID.randomUUID());
        try {
            for (Answers.CompletedOutput o : done.outputs()) {
                ModelLocation.S3 at = (ModelLocation.S3) ModelLocation.parse(o.uri());
                Path dir = done.outputs().size() == 1 ? staging : staging.resolve(o.format());
                Files.createDirectories(dir);
                for (Manifest.FileEntry f : o.manifest().files()) {
                    String sha = s3.bucket(Role.SOURCE, at.bucket()).download(at.keyPrefix() + f.path(), dir.resolve(f.path()));
                    if (!sha.equals(f.sha256())) {
                        throw QuantflowException.of(Reason.DOWNLOAD_CORRUPT, o.uri() + "/" + f.path() + " does not match its manifest (sha256 " + sha + ")");
                    }
                }
                s3.bucket(Role.SOURCE, at.bucket()).download(at.keyPrefix() + Manifest.FILE_NAME, dir.resolve(Manifest.FILE_NAME));
            }
            if (Files.exists(download)) {
                Files.delete(download);
            }
            Files.move(staging, download);
            err.println("downloaded to " + download);
        } catch (IOException e) {
            throw QuantflowException.of(Reason.LOCAL_WRITE_FAILED, "cannot write " + download + ": " + e.getMessage(), e);
        } finally {
            if (Files.exists(staging)) {
                FileTrees.delete(staging);
            }
        }
    }

    private static boolean isEmptyDir(Path p) {
        try (Stream<Path> s = Files.list(p)) {
            return s.findAny().isEmpty();
        } catch (IOException e) {
            return false;
        }
    }

    private static ErrorCode code(String c) {
        try {
            return ErrorCode.valueOf(c);
        } catch (IllegalArgumentException | NullPointerException e) {
            return ErrorCode.INTERNAL;
        }
    }
}
