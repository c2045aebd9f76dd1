package io.quantflow.core.synth;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.convert.IfExists;
import io.quantflow.core.convert.TargetDirectory;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.json.PythonJson;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsLayout;
import io.quantflow.core.safetensors.SafetensorsOutput;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.safetensors.TensorSpec;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.LongConsumer;

/**
 * Writes a synthetic checkpoint of a {@link ModelShape}: config.json, generation_config.json and
 * safetensors shards of at most {@code maxShardBytes} with an index when there are several. Weights
 * are normal with std 0.02 (the Llama initialisation; norms are 1), deterministic for a seed and
 * independent of the thread count: each 4 MiB piece of a tensor has its own generator.
 *
 * <p>Weights named as outlier tensors get outlier feature columns, as LLM.int8() found in real models:
 * every {@link #OUTLIER_COLUMN_PERIOD}th input column (from column {@link #OUTLIER_COLUMN_OFFSET}) holds
 * values of magnitude {@link #OUTLIER_MAGNITUDE}, random sign. With blocks of 64, a quarter of their
 * blocks then hold one value 32 standard deviations out, which pushes the block's other values onto
 * the few 4-bit codes near zero.
 */
public final class SyntheticCheckpoint {
    public static final long DEFAULT_MAX_SHARD_BYTES = 5_000_000_000L;
    private static final int PIECE_ELEMENTS = 1 << 21;
    public static final int OUTLIER_COLUMN_PERIOD = 256;
    public static final int OUTLIER_COLUMN_OFFSET = 100;
    /** 32 x the weights' standard deviation of 0.02. */
    public static final float OUTLIER_MAGNITUDE = 0.64f;

    private SyntheticCheckpoint() {
    }

    public static void write(ModelShape shape, DType dtype, long seed, Path dir, long maxShardBytes, IfExists ifExists,
                             LongConsumer progress) {
        write(shape, dtype, seed, dir, maxShardBytes, ifExists, java.util.Set.of(), progress);
    }

    /** As above, with outlier columns planted in the weights named in {@code outlierTensors}. */
    public static void write(ModelShape shape, DType dtype, long seed, Path dir, long maxShardBytes, IfExists ifExists,
                             java.util.Set<String> outlierTensors, LongConsumer progress) {
        if (!dtype.isDecodedFloat()) {
            throw QuantflowException.invalidRequest("synthetic weights are bfloat16, float16 or float32");
        }
        try (TargetDirectory out = TargetDirectory.prepare(dir, ifExists)) {
            List<List<TensorSpec>> shards = split(shape.tensors(dtype), maxShardBytes);
            out.requireSpace(shards.stream().flatMap(List::stream).mapToLong(TensorSpec::byteSize).sum());
            int threads = Runtime.getRuntime().availableProcessors();
            ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
                Thread t = new Thread(r, "quantflow-synth");
                t.setDaemon(true);
                return t;
            });
            try {
                Map<String, String> weightMap = new TreeMap<>();
                long total = 0;
                for (int i = 0; i < shards.size(); i++) {
                    String name = shards.size() == 1 ? Checkpoint.SINGLE_FILE
                            : String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
                    SafetensorsLayout layout = SafetensorsLayout.of(Map.of("format", "pt"), shards.get(i));
                    try (SafetensorsOutput o = SafetensorsOutput.create(out.staging().resolve(name), layout.paddedHeaderLength())) {
                        List<Future<?>> tasks = new ArrayList<>();
                        for (TensorInfo t : layout.entries()) {
                            weightMap.put(t.name(), name);
                            submitTensor(t, seed, outlierTensors.contains(t.name()), o, pool, tasks, progress);
                        }
                        for (Future<?> f : tasks) {
                            f.get();
                        }
                        o.finish(layout);
                    }
                    total += layout.dataLength();
                }
                if (shards.size() > 1) {
                    ObjectNode index = JsonNodeFactory.instance.objectNode();
                    index.putObject("metadata").put("total_size", total);
                    ObjectNode map = index.putObject("weight_map");
                    weightMap.forEach(map::put);
                    Files.writeString(out.staging().resolve(Checkpoint.INDEX_FILE), PythonJson.toIndentedSorted(index), StandardCharsets.UTF_8);
                }
                ObjectNode config = shape.config(dtype);
                config.put("transformers_version", "5.17.0");
                Files.writeString(out.staging().resolve(Checkpoint.CONFIG_FILE), PythonJson.toIndentedSorted(config), StandardCharsets.UTF_8);
                ObjectNode gen = JsonNodeFactory.instance.objectNode();
                gen.put("_from_model_config", true);
                gen.put("bos_token_id", 1);
                gen.put("eos_token_id", 2);
                gen.put("transformers_version", "5.17.0");
                Files.writeString(out.staging().resolve("generation_config.json"), PythonJson.toIndentedSorted(gen), StandardCharsets.UTF_8);
                out.commit();
            } catch (IOException e) {
                throw TargetDirectory.ioFailure("writing " + dir, e);
            } catch (java.util.concurrent.ExecutionException e) {
                if (e.getCause() instanceof IOException io) {
                    throw TargetDirectory.ioFailure("writing " + dir, io);
                }
                throw new QuantflowException(io.quantflow.core.error.ErrorCode.INTERNAL, String.valueOf(e.getCause()), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new QuantflowException(io.quantflow.core.error.ErrorCode.INTERNAL, "interrupted");
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /** Groups tensors (in model order) into shards of at most {@code maxBytes}, as save_pretrained does. */
    static List<List<TensorSpec>> split(List<TensorSpec> tensors, long maxBytes) {
        List<List<TensorSpec>> shards = new ArrayList<>();
        List<TensorSpec> current = new ArrayList<>();
        long size = 0;
        for (TensorSpec t : tensors) {
            if (!current.isEmpty() && size + t.byteSize() > maxBytes) {
                shards.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            current.add(t);
            size += t.byteSize();
        }
        if (!current.isEmpty()) {
            shards.add(current);
        }
        return shards;
    }

    private static void submitTensor(TensorInfo t, long seed, boolean outliers, SafetensorsOutput out, ExecutorService pool,
                                     List<Future<?>> tasks, LongConsumer progress) {
        long cols = t.rank() == 2 ? t.dim(1) : 1;
        long n = t.elements();
        boolean norm = t.rank() == 1;
        long tensorSeed = mix(seed ^ t.name().hashCode() * 0x9E3779B97F4A7C15L);
        int size = t.dtype().size();
        for (long start = 0; start < n; start += PIECE_ELEMENTS) {
            long s = start;
            int len = (int) Math.min(PIECE_ELEMENTS, n - start);
            tasks.add(pool.submit(() -> {
                ByteBuffer buf = ByteBuffer.allocate(len * size).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                long state = mix(tensorSeed + s);
                for (int i = 0; i < len; i++) {
                    float v;
                    if (norm) {
                        v = 1.0f;
                    } else {
                        state += 0x9E3779B97F4A7C15L;
                        long r = mix(state);
                        // sum of four 16-bit uniforms: mean 2 * 65535, variance 4 * (65536^2 - 1) / 12
                        long sum = (r & 0xFFFF) + (r >>> 16 & 0xFFFF) + (r >>> 32 & 0xFFFF) + (r >>> 48);
                        v = (float) ((sum - 131070.0) * (0.02 / 37837.2));
                        if (outliers && (s + i) % cols % OUTLIER_COLUMN_PERIOD == OUTLIER_COLUMN_OFFSET) {
                            v = (r & 1) == 0 ? OUTLIER_MAGNITUDE : -OUTLIER_MAGNITUDE;
                        }
                    }
                    put(buf, t.dtype(), v);
                }
                buf.flip();
                out.write(t.begin() + s * size, buf);
                progress.accept((long) len * size);
                return null;
            }));
        }
    }

    private static void put(ByteBuffer buf, DType dtype, float v) {
        switch (dtype) {
            case BF16 -> {
                int bits = Float.floatToRawIntBits(v);
                bits += 0x7FFF + ((bits >>> 16) & 1);
                buf.putShort((short) (bits >>> 16));
            }
            case F16 -> buf.putShort(Float.floatToFloat16(v));
            default -> buf.putFloat(v);
        }
    }

    /** SplitMix64's finaliser. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
