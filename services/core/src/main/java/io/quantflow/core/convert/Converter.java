package io.quantflow.core.convert;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.json.PythonJson;
import io.quantflow.core.safetensors.SafetensorsLayout;
import io.quantflow.core.safetensors.TensorInfo;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * One conversion in one process: open and validate the source, plan every shard, check the target
 * and the free space, write everything into a staging directory, the manifest last, then rename it
 * into place. Any failure removes the staging directory and leaves the target as it was.
 */
public final class Converter {

    /**
     * A conversion to run. {@code threads} &lt;= 0 means one per available processor; {@code device}
     * says where the quantization runs (AUTO: the GPU when there is one).
     */
    public record Request(Path source, Path target, OutputFormat format, QuantOptions quant, IfExists ifExists,
                          int threads, Device device) {

        public Request {
            java.util.Objects.requireNonNull(device, "device");
        }

        /** A request on the device AUTO picks. */
        public Request(Path source, Path target, OutputFormat format, QuantOptions quant, IfExists ifExists, int threads) {
            this(source, target, format, quant, ifExists, threads, Device.AUTO);
        }
    }

    public record Result(Path target, Manifest manifest) {
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
        Path source = request.source().toAbsolutePath().normalize();
        Path target = request.target().toAbsolutePath().normalize();
        if (target.startsWith(source) || source.startsWith(target)) {
            throw QuantflowException.invalidRequest("the target " + target + " and the source " + source
                    + " must not contain each other");
        }
        Backends.require(request.device());
        TargetDirectory.checkTarget(target, request.ifExists());
        try (Checkpoint checkpoint = Checkpoint.open(source)) {
            ObjectNode config = checkpoint.config();
            if (config == null) {
                throw QuantflowException.invalidCheckpoint(source + " has no config.json; transformers cannot load a model without it");
            }
            if (config.has("quantization_config")) {
                throw new QuantflowException(ErrorCode.UNSUPPORTED_MODEL, source
                        + " is already quantized (config.json has a quantization_config); start from the 16-bit model");
            }
            ConversionPlan plan = ConversionPlan.of(checkpoint, request.quant());
            if (plan.quantizedCount() == 0) {
                throw new QuantflowException(ErrorCode.UNSUPPORTED_MODEL, source
                        + " has no 2-D linear-layer weights in bf16/fp16/fp32 to quantize");
            }
            try (TargetDirectory out = TargetDirectory.prepare(target, request.ifExists())) {
                out.requireSpace(plan.maxOutputBytes());
                int threads = request.threads() > 0 ? request.threads() : Runtime.getRuntime().availableProcessors();
                ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
                    Thread t = new Thread(r, "quantflow-worker");
                    t.setDaemon(true);
                    return t;
                });
                try (TensorQuantizer quantizer = Backends.open(request.device(), request.quant().quantType(), pool, threads)) {
                    List<Manifest.FileEntry> files = write(checkpoint, plan, request, quantizer, pool, out.staging(), listener);
                    Manifest manifest = manifest(checkpoint, plan, request.quant(), quantizer, files, System.nanoTime() - t0);
                    manifest.write(out.staging().resolve(Manifest.FILE_NAME));
                    fsyncDirectory(out.staging());
                    out.commit();
                    listener.finished();
                    return new Result(target, manifest);
                } finally {
                    pool.shutdownNow();
                }
            } catch (IOException e) {
                throw TargetDirectory.ioFailure("writing " + target, e);
            } catch (OutOfMemoryError e) {
                throw new QuantflowException(ErrorCode.OUT_OF_MEMORY, "the JVM ran out of heap; raise it with QUANTFLOW_JAVA_OPTS=-Xmx<size>", e);
            }
        }
    }

    private List<Manifest.FileEntry> write(Checkpoint checkpoint, ConversionPlan plan, Request request, TensorQuantizer quantizer,
                                           ExecutorService pool, Path staging, Listener listener) throws IOException {
        AtomicLong done = new AtomicLong();
        listener.started(plan.sourceBytes());
        Map<String, String> weightMap = new TreeMap<>();
        Map<String, Future<Manifest.FileEntry>> shardEntries = new TreeMap<>();
        long totalSize = 0;
        for (ShardPlan shard : plan.shards()) {
            ShardWriter writer = new ShardWriter(shard, request.quant(), quantizer, pool,
                    n -> listener.progress(done.addAndGet(n)));
            Path file = staging.resolve(shard.fileName());
            SafetensorsLayout layout = writer.write(file);
            // made durable and hashed by the pool while the next shard is converted
            shardEntries.put(shard.fileName(), pool.submit(() -> syncAndHash(file)));
            for (TensorInfo t : layout.entries()) {
                weightMap.put(t.name(), shard.fileName());
            }
            totalSize += layout.dataLength();
        }
        if (checkpoint.indexed()) {
            writeIndex(staging.resolve(Checkpoint.INDEX_FILE), weightMap, totalSize);
        }
        ObjectNode config = checkpoint.config();
        config.set("quantization_config", QuantizationConfig.of(request.quant()));
        Files.writeString(staging.resolve(Checkpoint.CONFIG_FILE), PythonJson.toIndentedSorted(config), StandardCharsets.UTF_8);
        for (Path other : checkpoint.otherFiles()) {
            // copied as content: the output's files belong to whoever runs the conversion, whatever the source's modes
            try (InputStream in = Files.newInputStream(other)) {
                Files.copy(in, staging.resolve(other.getFileName().toString()));
            }
        }
        return hashAll(staging, pool, shardEntries);
    }

    /** Forces a written file to the disk, then hashes it. */
    private static Manifest.FileEntry syncAndHash(Path p) throws IOException {
        try (var ch = java.nio.channels.FileChannel.open(p, java.nio.file.StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        return new Manifest.FileEntry(p.getFileName().toString(), Files.size(p), sha256(p));
    }

    /** The shard index as transformers writes it: total_size and a sorted weight_map. */
    static void writeIndex(Path file, Map<String, String> weightMap, long totalSize) throws IOException {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode root = f.objectNode();
        root.putObject("metadata").put("total_size", totalSize);
        ObjectNode map = root.putObject("weight_map");
        weightMap.forEach(map::put);
        Files.writeString(file, PythonJson.toIndentedSorted(root), StandardCharsets.UTF_8);
    }

    /** Every file of {@code dir} with its size and sha256; those in {@code done} are already under way. */
    private static List<Manifest.FileEntry> hashAll(Path dir, ExecutorService pool,
                                                    Map<String, Future<Manifest.FileEntry>> done) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(Files::isRegularFile).sorted().toList();
        }
        List<Future<Manifest.FileEntry>> futures = new ArrayList<>();
        for (Path p : files) {
            Future<Manifest.FileEntry> f = done.get(p.getFileName().toString());
            futures.add(f != null ? f : pool.submit(() -> new Manifest.FileEntry(p.getFileName().toString(), Files.size(p), sha256(p))));
        }
        List<Manifest.FileEntry> out = new ArrayList<>();
        List<Future<?>> all = new ArrayList<>(futures);
        ShardWriter.await(all);
        for (Future<Manifest.FileEntry> f : futures) {
            out.add(f.resultNow());
        }
        return out;
    }

    public static String sha256(Path p) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        byte[] buf = new byte[1 << 20];
        try (InputStream in = Files.newInputStream(p)) {
            int r;
            while ((r = in.read(buf)) > 0) {
                md.update(buf, 0, r);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static Manifest manifest(Checkpoint checkpoint, ConversionPlan plan, QuantOptions q, TensorQuantizer quantizer,
                                     List<Manifest.FileEntry> files, long nanos) {
        long bytes = files.stream().mapToLong(Manifest.FileEntry::bytes).sum();
        long weightBytes = files.stream().filter(f -> f.path().endsWith(".safetensors")).mapToLong(Manifest.FileEntry::bytes).sum();
        long params = checkpoint.parameters();
        return new Manifest(Manifest.VERSION, OutputFormat.BNB_4BIT.id(),
                new Manifest.Source(checkpoint.dir().toString(), checkpoint.weightBytes(), params,
                        checkpoint.dominantDtype().torchName(), checkpoint.shards().size()),
                new Manifest.Options(q.quantType().id(), q.doubleQuant(), q.blocksize(), q.computeDtype().torchName(),
                        q.skipModules(), quantizer.name()),
                new Manifest.Output(bytes, weightBytes, params == 0 ? 0 : Math.round(weightBytes * 8.0 / params * 1000) / 1000.0,
                        plan.quantizedCount(), plan.copiedCount(), plan.quantizedParameters()),
                files,
                new Manifest.Timings(nanos / 1_000_000));
    }

    private static void fsyncDirectory(Path dir) {
        try (var ch = java.nio.channels.FileChannel.open(dir, java.nio.file.StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // not every file system lets a directory be synced; the files themselves were
        }
    }

}
