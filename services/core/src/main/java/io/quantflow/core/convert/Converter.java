package io.quantflow.core.convert;

import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.concurrent.Tasks;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.format.WeightCodec;
import io.quantflow.core.lora.LoraAdapter;
import io.quantflow.core.model.SourceModel;
import io.quantflow.core.model.SourceShard;
import io.quantflow.core.quality.MeasuredTensor;
import io.quantflow.core.quality.Quality;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.TensorQuantizer;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsLayout;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.target.LocalTarget;
import io.quantflow.core.util.Digests;
import io.quantflow.core.util.Durable;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * One conversion in one process: open and validate the source, plan every output shard by shard,
 * check the target and the free space, write everything into a staging directory (each output's
 * manifest last), then rename it into place. Any failure removes the staging directory and leaves
 * the target as it was.
 */
public final class Converter {

    /**
     * A conversion to run: where from and where to, and the options (checked when they were built).
     *
     * @param adapter    a PEFT LoRA adapter directory, or null
     * @param threads    worker threads; 0 or less means one per available processor
     * @param provenance where the source came from (recorded in the manifest), or null for a local directory
     */
    public record Request(Path source, Path adapter, Path target, ConversionOptions options, IfExists ifExists, int threads,
                          Provenance provenance) {

        public Request {
            Objects.requireNonNull(options, "options");
        }

        /** A request from a local directory. */
        public Request(Path source, Path adapter, Path target, ConversionOptions options, IfExists ifExists, int threads) {
            this(source, adapter, target, options, ifExists, threads, null);
        }

        /** A request on the device AUTO picks, from a local directory, quantizing every weight it can. */
        public Request(Path source, Path adapter, Path target, List<OutputFormat> formats, QuantOptions quant,
                       DType dtype, IfExists ifExists, int threads) {
            this(source, adapter, target, ConversionOptions.of(formats, quant, dtype), ifExists, threads, null);
        }

        /** A request on a given device. */
        public Request(Path source, Path adapter, Path target, List<OutputFormat> formats, QuantOptions quant,
                       DType dtype, IfExists ifExists, int threads, Device device) {
            this(source, adapter, target, ConversionOptions.of(formats, quant, dtype).withDevice(device), ifExists, threads, null);
        }

        /** This request with where its source came from. */
        public Request withProvenance(Provenance p) {
            return new Request(source, adapter, target, options, ifExists, threads, p);
        }

        /** This request with {@code --dynamic} and a budget. */
        public Request withDynamic(DynamicBudget budget) {
            return new Request(source, adapter, target, options.withDynamic(budget), ifExists, threads, provenance);
        }

        /** A bitsandbytes 4-bit conversion of a model. */
        public static Request bnb4bit(Path source, Path target, QuantOptions quant, IfExists ifExists, int threads) {
            return new Request(source, null, target, ConversionOptions.bnb4bit(quant), ifExists, threads, null);
        }





    }

    /** What was written: one manifest per output, in the order of the request's formats. */
    public record Result(Path target, List<Manifest> manifests) {
        public Manifest manifest() {
            return manifests.get(0);
        }
    }

    /** Hears about progress; every method has a no-op default. */
    public interface Listener {
        default void started(long totalBytes) {
        }

        default void progress(long doneBytes) {
        }

        default void finished() {
        }

        Listener NONE = new Listener() {
        };
    }

    public Result convert(Request request, Listener listener) {
        long t0 = System.nanoTime();
        List<OutputSpec> outputs = outputs(request);
        Path source = request.source().toAbsolutePath().normalize();
        Path target = request.target().toAbsolutePath().normalize();
        if (target.startsWith(source) || source.startsWith(target)) {
            throw QuantflowException.of(Reason.TARGET_INVALID, "the target " + target + " and the source " + source
                    + " must not contain each other");
        }
        Backends.require(request.options().device());
        LocalTarget.check(target, request.ifExists());
        try (Checkpoint checkpoint = Checkpoint.open(source);
             LoraAdapter adapter = request.adapter() == null ? null : LoraAdapter.open(request.adapter())) {
            ConversionPlan plan = Planner.forModel(source.toString(), checkpoint.config(), checkpoint.shards(), adapter, outputs);
            boolean base4bit = SourceModel.isBnb4bit(checkpoint.config());
            List<SourceShard> shards = plan.shards();
            int threads = request.threads() > 0 ? request.threads() : Runtime.getRuntime().availableProcessors();
            String cpu = outputs.stream().map(o -> o.format().codec(o)).filter(Objects::nonNull).map(WeightCodec::engine)
                    .findFirst().orElse("none");
            ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
                Thread t = new Thread(r, "quantflow-worker");
                t.setDaemon(true);
                return t;
            });
            try (TensorQuantizer accelerator = Backends.openAccelerator(request.options().device())) {
                String engine = accelerator != null ? accelerator.name()
                        : "cpu " + cpu + " x " + threads + (threads == 1 ? " thread" : " threads");
                DynamicPlanner.Planned dynamic = null;
                if (request.options().dynamic() != null) {
                    dynamic = DynamicPlanner.plan(request.options().dynamic(), checkpoint.parameters(), shards, outputs, plan, pool, listener);
                    outputs = dynamic.outputs();
                    plan = dynamic.plan();
                }
                return write(request, checkpoint, adapter, base4bit, outputs, plan, dynamic, accelerator, engine,
                        pool, listener, t0);
            } catch (IOException e) {
                throw QuantflowException.ioFailure("writing " + target, e);
            } catch (OutOfMemoryError e) {
                throw QuantflowException.of(Reason.HEAP_EXHAUSTED, "the JVM ran out of heap; raise it with QUANTFLOW_JAVA_OPTS=-Xmx<size>", e);
            } finally {
                pool.shutdownNow();
            }
        }
    }

    private Result write(Request request, Checkpoint checkpoint, LoraAdapter adapter, boolean base4bit,
                         List<OutputSpec> outputs, ConversionPlan plan, DynamicPlanner.Planned dynamic,
                         TensorQuantizer accelerator, String engine, ExecutorService pool,
                         Listener listener, long t0)
            throws IOException {
        Path target = request.target().toAbsolutePath().normalize();
        // what each weight lost, per output that quantizes (filled from the pool's threads)
        Map<OutputSpec, Map<String, MeasuredTensor>> measured = new LinkedHashMap<>();
        for (OutputSpec o : outputs) {
            measured.put(o, new ConcurrentHashMap<>());
        }
        try (LocalTarget out = LocalTarget.prepare(target, request.ifExists())) {
            out.requireSpace(plan.maxWeightBytes() + outputs.size() * otherFilesBytes(checkpoint) + (1 << 20));
            Map<OutputSpec, Path> dirs = new LinkedHashMap<>();
            for (OutputSpec o : outputs) {
                Path dir = o.subdir().isEmpty() ? out.staging() : out.staging().resolve(o.subdir());
                Files.createDirectories(dir);
                dirs.put(o, dir);
            }
            Map<Path, Future<Manifest.FileEntry>> written = new LinkedHashMap<>();
            Map<OutputSpec, List<SafetensorsLayout>> layouts = writeWeights(plan, dirs, measured, accelerator,
                    pool, listener, written);
            List<Manifest> manifests = new ArrayList<>();
            for (OutputSpec o : outputs) {
                Path dir = dirs.get(o);
                if (!o.hasWeights()) {
                    o.format().writeWithoutWeights(adapter, dir);
                } else {
                    writeModelFiles(checkpoint, plan, o, layouts.getOrDefault(o, List.of()), dir);
                }
                List<Manifest.FileEntry> files = hashAll(dir, pool, written);
                Quality quality = o.quantizes()
                        ? QualityBuilder.build(plan.plans(o), layouts.get(o), measured.get(o),
                        dynamic == null ? null : dynamic.measured(), dynamic == null ? null : dynamic.selection())
                        : null;
                Double requantization = QualityBuilder.requantizationError(base4bit, quality);
                Manifest m = manifest(checkpoint, adapter, plan, o, engine, requantization, quality, files,
                        System.nanoTime() - t0, request.provenance());
                m.write(dir.resolve(Manifest.FILE_NAME));
                manifests.add(m);
                Durable.directory(dir);
            }
            Durable.directory(out.staging());
            out.commit();
            listener.finished();
            return new Result(target, manifests);
        }
    }

    /** The outputs a request asks for, checked against the adapter. */
    static List<OutputSpec> outputs(Request r) {
        return r.options().outputs(r.adapter() != null);
    }

    /** Every output's shards, the source read once; returns each output's final shard layouts. */
    private Map<OutputSpec, List<SafetensorsLayout>> writeWeights(ConversionPlan plan, Map<OutputSpec, Path> dirs,
                                                                  Map<OutputSpec, Map<String, MeasuredTensor>> measured,
                                                                  TensorQuantizer accelerator,
                                                                  ExecutorService pool, Listener listener,
                                                                  Map<Path, Future<Manifest.FileEntry>> synced) throws IOException {
        Map<OutputSpec, List<SafetensorsLayout>> layouts = new LinkedHashMap<>();
        AtomicLong done = new AtomicLong();
        listener.started(plan.sourceBytes());
        for (int i = 0; i < plan.shards().size(); i++) {
            SourceShard shard = plan.shards().get(i);
            List<ShardPlan> plans = new ArrayList<>();
            List<Path> files = new ArrayList<>();
            List<Map<String, MeasuredTensor>> shardMeasured = new ArrayList<>();
            for (Map.Entry<OutputSpec, List<ShardPlan>> e : plan.plans().entrySet()) {
                plans.add(e.getValue().get(i));
                files.add(dirs.get(e.getKey()).resolve(shard.fileName()));
                shardMeasured.add(measured.get(e.getKey()));
            }
            if (plans.isEmpty()) {
                continue;
            }
            List<SafetensorsLayout> written = new ShardWriter(shard, accelerator, pool,
                    n -> listener.progress(done.addAndGet(n))).write(plans, files, shardMeasured);
            int k = 0;
            for (OutputSpec o : plan.plans().keySet()) {
                layouts.computeIfAbsent(o, x -> new ArrayList<>()).add(written.get(k++));
            }
            // made durable and hashed by the pool while the next shard is converted
            for (Path f : files) {
                synced.put(f, pool.submit(() -> syncAndHash(f)));
            }
        }
        return layouts;
    }

    /** Index, config and the files that travel with the weights, for one output. */
    private static void writeModelFiles(Checkpoint checkpoint, ConversionPlan plan, OutputSpec o,
                                        List<SafetensorsLayout> layouts, Path dir) throws IOException {
        if (!o.hasWeights()) {
            return;
        }
        List<IndexAndConfig.WeightFile> files = new ArrayList<>();
        List<ShardPlan> plans = plan.plans(o);
        for (int i = 0; i < plans.size(); i++) {
            files.add(new IndexAndConfig.WeightFile(plans.get(i).fileName(),
                    layouts.get(i).entries().stream().map(TensorInfo::name).toList(), layouts.get(i).dataLength()));
        }
        IndexAndConfig.write(checkpoint.config(), checkpoint.indexed(), o, files, dir);
        for (Path other : checkpoint.otherFiles()) {
            // copied as content: the output's files belong to whoever runs the conversion, whatever the source's modes
            try (InputStream in = Files.newInputStream(other)) {
                Files.copy(in, dir.resolve(other.getFileName().toString()));
            }
        }
        ModelCard.write(dir, checkpoint.config(), o);
    }

    private static long otherFilesBytes(Checkpoint checkpoint) {
        long n = 0;
        for (Path p : checkpoint.otherFiles()) {
            try {
                n += Files.size(p);
            } catch (IOException e) {
                throw QuantflowException.ioFailure("cannot read " + p, e);
            }
        }
        return n;
    }

    /** Forces a written file to the disk, then hashes it. */
    private static Manifest.FileEntry syncAndHash(Path p) throws IOException {
        Durable.file(p);
        return new Manifest.FileEntry(p.getFileName().toString(), Files.size(p), Digests.sha256(p));
    }

    /** Every file of {@code dir} with its size and sha256; those in {@code done} are already under way. */
    private static List<Manifest.FileEntry> hashAll(Path dir, ExecutorService pool,
                                                    Map<Path, Future<Manifest.FileEntry>> done) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(Files::isRegularFile).sorted().toList();
        }
        List<Future<Manifest.FileEntry>> futures = new ArrayList<>();
        for (Path p : files) {
            Future<Manifest.FileEntry> f = done.get(p);
            futures.add(f != null ? f : pool.submit(() -> new Manifest.FileEntry(p.getFileName().toString(), Files.size(p), Digests.sha256(p))));
        }
        Tasks.await(new ArrayList<>(futures));
        List<Manifest.FileEntry> out = new ArrayList<>();
        for (Future<Manifest.FileEntry> f : futures) {
            out.add(f.resultNow());
        }
        return out;
    }

    private static Manifest manifest(Checkpoint checkpoint, LoraAdapter adapter, ConversionPlan plan, OutputSpec o,
                                     String engine, Double requantizationError, Quality quality,
                                     List<Manifest.FileEntry> files, long nanos, Provenance p) {
        long params = checkpoint.parameters();
        Manifest.Adapter a = adapter == null ? null : new Manifest.Adapter(adapter.dir().toString(), adapter.modules().size(),
                adapter.replacedTensors().size(), adapter.config().r(), adapter.config().loraAlpha(), adapter.config().useRslora(),
                adapter.config().useDora(), p == null ? null : p.adapterUri(), p == null ? null : p.adapterContentHash());
        return new Manifest(Manifest.VERSION, o.format().id(),
                new Manifest.Source(checkpoint.dir().toString(), checkpoint.weightBytes(), params,
                        checkpoint.dominantDtype().torchName(), checkpoint.shards().size(), p == null ? null : p.sourceUri(),
                        p == null ? null : p.sourceRevision(), p == null ? null : p.sourceContentHash()),
                a,
                Manifest.Options.of(o.quant(), engine),
                Manifest.Output.of(files, params, plan.quantizedCount(o), plan.keptCount(o), plan.quantizedParameters(o),
                        requantizationError),
                files,
                new Manifest.Timings(nanos / 1_000_000),
                p == null ? null : p.cacheKey(), p == null ? null : false, null,
                quality);
    }
}
