package io.quantflow.core.synth;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.json.PythonJson;
import io.quantflow.core.quant.DtypeEncoding;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsLayout;
import io.quantflow.core.safetensors.SafetensorsOutput;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.safetensors.TensorSpec;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.target.LocalTarget;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.LongConsumer;

/**
 * Writes a synthetic checkpoint of a {@link ModelShape}: config.json, generation_config.json and
 * safetensors shards of at most {@code maxShardBytes} with an index when there are several. Weights
 * are normal with std 0.02 (the Llama initialisation; norms are 1), deterministic for a seed and
 * independent of the thread count: each piece of a tensor has its own generator.
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
        write(shape, dtype, seed, dir, maxShardBytes, ifExists, Set.of(), progress);
    }

    /** As above, with outlier columns planted in the weights named in {@code outlierTensors}. */
    public static void write(ModelShape shape, DType dtype, long seed, Path dir, long maxShardBytes, IfExists ifExists,
                             Set<String> outlierTensors, LongConsumer progress) {
        if (!dtype.isDecodedFloat()) {
            throw QuantflowException.of(Reason.OPTION_INVALID, "synthetic weights are bfloat16, float16 or float32");
        }
        try (LocalTarget out = LocalTarget.prepare(dir, ifExists)) {
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
                throw QuantflowException.ioFailure("writing " + dir, e);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof IOException io) {
                    throw QuantflowException.ioFailure("writing " + dir, io);
                }
                throw QuantflowException.of(Reason.WORKER_FAILED, String.valueOf(e.getCause()), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw QuantflowException.of(Reason.INTERRUPTED, "interrupted");
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
        int size = t.dtype().size();
        // norms are ones, as initialised; every other tensor is drawn from N(0, 0.02^2)
        byte[] one = new byte[size];
        DtypeEncoding.encode(t.dtype(), new float[] {1.0f}, 0, 1, one, 0);
        byte[] table = t.rank() == 1 ? null : normalTable(t.dtype());
        long tensorSeed = mix(seed ^ t.name().hashCode() * 0x9E3779B97F4A7C15L);
        for (long start = 0; start < n; start += PIECE_ELEMENTS) {
            long s = start;
            int len = (int) Math.min(PIECE_ELEMENTS, n - start);
            tasks.add(pool.submit(() -> {
                byte[] buf = PIECE.get();
                fill(buf, len, size, table, one, mix(tensorSeed + s));
                if (outliers) {
                    plantOutliers(buf, s, len, cols, size, t.dtype(), mix(tensorSeed + s + 1));
                }
                out.write(t.begin() + s * size, ByteBuffer.wrap(buf, 0, len * size));
                progress.accept((long) len * size);
                return null;
            }));
        }
    }

    private static final ThreadLocal<byte[]> PIECE = ThreadLocal.withInitial(() -> new byte[PIECE_ELEMENTS * 4]);
    private static final Map<DType, byte[]> TABLES = new ConcurrentHashMap<>();

    private static byte[] normalTable(DType dtype) {
        return TABLES.computeIfAbsent(dtype, d -> NormalTable.encoded(d, 0.02));
    }

    private static final VarHandle SHORTS =
            MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INTS =
            MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    /**
     * {@code len} values into {@code buf}: table entries picked by 16 random bits each (four per
     * 64-bit draw), or all {@code one}.
     */
    static void fill(byte[] buf, int len, int size, byte[] table, byte[] one, long state) {
        if (table == null) {
            for (int i = 0; i < len; i++) {
                System.arraycopy(one, 0, buf, i * size, size);
            }
            return;
        }
        for (int i = 0; i < len; i += 4) {
            state += 0x9E3779B97F4A7C15L;
            long r = mix(state);
            for (int k = 0; k < 4 && i + k < len; k++) {
                int idx = (int) (r >>> (16 * k)) & 0xFFFF;
                if (size == 2) {
                    SHORTS.set(buf, 2 * (i + k), (short) SHORTS.get(table, 2 * idx));
                } else {
                    INTS.set(buf, 4 * (i + k), (int) INTS.get(table, 4 * idx));
                }
            }
        }
    }

    /**
     * Overwrites the outlier columns of values {@code [start, start+len)} of a weight with
     * {@code +-OUTLIER_MAGNITUDE}, the sign drawn from {@code state}.
     */
    static void plantOutliers(byte[] buf, long start, int len, long cols, int size, DType dtype, long state) {
        byte[] plus = new byte[size];
        byte[] minus = new byte[size];
        DtypeEncoding.encode(dtype, new float[] {OUTLIER_MAGNITUDE, -OUTLIER_MAGNITUDE}, 0, 1, plus, 0);
        DtypeEncoding.encode(dtype, new float[] {-OUTLIER_MAGNITUDE}, 0, 1, minus, 0);
        for (int i = 0; i < len; i++) {
            if ((start + i) % cols % OUTLIER_COLUMN_PERIOD == OUTLIER_COLUMN_OFFSET) {
                state += 0x9E3779B97F4A7C15L;
                System.arraycopy((mix(state) & 1) == 0 ? plus : minus, 0, buf, i * size, size);
            }
        }
    }

    /** SplitMix64's finaliser. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
