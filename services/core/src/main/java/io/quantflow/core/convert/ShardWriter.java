package io.quantflow.core.convert;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.quant.BlockwiseQuantizer;
import io.quantflow.core.quant.DoubleQuantizer;
import io.quantflow.core.quant.DtypeEncoding;
import io.quantflow.core.quant.DynamicMap;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.quality.AbsmaxOutliers;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsLayout;
import io.quantflow.core.safetensors.SafetensorsOutput;
import io.quantflow.core.safetensors.TensorInfo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.function.LongConsumer;

/**
 * Writes one source shard into every output at once, reading the source once: tensors every output
 * copies are copied; the others are read chunk by chunk as values (decoded, merged...), and each
 * chunk goes to every output as its role says (stored bytes, 16-bit values, or 4-bit codes). Every
 * byte goes straight to its final position from a pool of threads; each thread holds one chunk at a
 * time, so memory is a few chunks per thread plus one float per block of the tensor being
 * quantized, whatever the model size.
 *
 * <p>Tensors with values are done in name order, each one's chunks in parallel; a quantized
 * tensor's absmax statistics (with double quantization: its 8-bit codes) are computed by the pool
 * while the next tensor runs (docs/adr/0001).
 *
 * <p>{@link #write(ShardPlan, Path, BlockwiseQuantizer, TensorQuantizer, ExecutorService)} writes one
 * output's file alone: the same bytes, for the pipeline that converts a model shard by shard.
 */
public final class ShardWriter {
    /** Values per chunk: 512 KiB of bf16, small enough to stay in cache. */
    static final int CHUNK_ELEMENTS = 1 << 18;
    /** Bytes per copy task. */
    static final int COPY_BYTES = 8 << 20;
    /** Absmax values per statistics task (a multiple of the nested blocksize). */
    static final int STATISTICS_BLOCKS = 1 << 16;

    private static final ThreadLocal<TensorValues.Scratch> SCRATCH = ThreadLocal.withInitial(TensorValues.Scratch::new);
    private static final ThreadLocal<ByteBuffer> COPY_BUFFER = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(COPY_BYTES));

    private final SourceShard shard;
    private final List<Out> outs = new ArrayList<>();
    private final BlockwiseQuantizer quantizer;
    private final TensorQuantizer accelerator;
    private final ExecutorService pool;
    private final LongConsumer progress;

    /** One output file being written, with what is known of its layout so far. */
    private static final class Out {
        final ShardPlan plan;
        final SafetensorsOutput file;
        final Map<String, Integer> stateLengths = new HashMap<>();
        final List<Future<?>> statistics = new ArrayList<>();
        final Map<String, MeasuredTensor> measured;
        volatile SafetensorsLayout layout;

        Out(ShardPlan plan, SafetensorsOutput file, Map<String, MeasuredTensor> measured) {
            this.plan = plan;
            this.file = file;
            this.measured = measured;
            this.layout = plan.layout(stateLengths);
        }

        void refresh() {
            layout = plan.layout(stateLengths);
        }

        long offset(String tensor) {
            return layout.entry(tensor).begin();
        }

        /** Where the first quant state of unknown length begins (other than {@code except}); MAX when none. */
        long firstPending(String except) {
            long first = Long.MAX_VALUE;
            for (QuantizedTensorNames q : plan.quantized()) {
                if (!stateLengths.containsKey(q.quantState()) && !q.quantState().equals(except)) {
                    first = Math.min(first, layout.entry(q.quantState()).begin());
                }
            }
            return first;
        }
    }

    /**
     * @param quantizer   the CPU quantizer for outputs that quantize
     * @param accelerator when not null, quantizes stored tensors of a lone quantizing output (a GPU)
     */
    ShardWriter(SourceShard shard, BlockwiseQuantizer quantizer, TensorQuantizer accelerator, ExecutorService pool,
                LongConsumer progress) {
        this.shard = shard;
        this.quantizer = quantizer;
        this.accelerator = accelerator;
        this.pool = pool;
        this.progress = progress;
    }

    /** One output's shard as written: the file's final layout and what each weight it quantized lost, by name. */
    public record Written(SafetensorsLayout layout, Map<String, MeasuredTensor> measured) {
    }

    /**
     * Writes one source shard for one output, byte for byte as {@link Converter} writes it beside other outputs.
     *
     * @param accelerator when not null, quantizes the shard's stored tensors (a GPU)
     */
    public static Written write(ShardPlan plan, Path file, BlockwiseQuantizer quantizer, TensorQuantizer accelerator,
                                ExecutorService pool) throws IOException {
        Map<String, MeasuredTensor> measured = new ConcurrentHashMap<>();
        SafetensorsLayout layout = new ShardWriter(plan.shard(), quantizer, accelerator, pool, n -> {
        }).write(List.of(plan), List.of(file), List.of(measured)).get(0);
        return new Written(layout, new TreeMap<>(measured));
    }

    /**
     * Writes the shard to every plan's file ({@code files.get(i)} for {@code plans.get(i)}), putting what
     * each weight an output quantizes lost into {@code measured.get(i)} (by tensor name, from the pool's
     * threads); returns the final layouts.
     */
    List<SafetensorsLayout> write(List<ShardPlan> plans, List<Path> files, List<Map<String, MeasuredTensor>> measured)
            throws IOException {
        try {
            for (int i = 0; i < plans.size(); i++) {
                outs.add(new Out(plans.get(i), SafetensorsOutput.create(files.get(i), plans.get(i).reservedHeaderLength()),
                        measured.get(i)));
            }
            List<Future<?>> copies = new ArrayList<>();
            List<SourceTensor> late = new ArrayList<>();
            List<SourceTensor> computed = new ArrayList<>();
            for (SourceTensor t : shard.tensors()) {
                if (outs.stream().allMatch(o -> o.plan.role(t.name()) == TensorRole.COPY)) {
                    if (outs.stream().allMatch(o -> o.layout.entry(t.name()).end() <= o.firstPending(null))) {
                        submitCopy(t, copies);
                    } else {
                        late.add(t);
                    }
                } else {
                    computed.add(t);
                }
            }
            computed.sort(Comparator.comparing(SourceTensor::name));
            List<TensorInfo> accelerated = computed.stream().filter(this::accelerated).map(SourceTensor::stored).toList();
            try (TensorQuantizer.Pass pass = accelerated.isEmpty() ? null
                    : accelerator.open(shard.file(), accelerated, outs.get(0).plan.output().quant(), outs.get(0).file, progress)) {
                for (SourceTensor t : computed) {
                    writeComputed(t, pass);
                }
            }
            for (Out o : outs) {
                await(o.statistics);
                o.refresh();
            }
            for (SourceTensor t : late) {
                submitCopy(t, copies);
            }
            await(copies);
            List<SafetensorsLayout> layouts = new ArrayList<>();
            for (Out o : outs) {
                o.refresh();
                o.file.finish(o.layout);
                layouts.add(o.layout);
            }
            return layouts;
        } finally {
            for (Out o : outs) {
                o.file.close();
            }
        }
    }

    /**
     * Whether the accelerator quantizes {@code t}: a stored tensor, unchanged, quantized by the only
     * output in its own dtype.
     */
    private boolean accelerated(SourceTensor t) {
        if (accelerator == null || outs.size() != 1 || t.stored() == null || t.transformed()) {
            return false;
        }
        Out o = outs.get(0);
        return o.plan.role(t.name()) == TensorRole.QUANTIZE && o.plan.target(t) == t.dtype();
    }

    /** A tensor whose values some output needs: its chunks once, then each output's statistics. */
    private void writeComputed(SourceTensor t, TensorQuantizer.Pass pass) throws IOException {
        Out quantizing = null;
        for (Out o : outs) {
            o.refresh();
            if (o.plan.role(t.name()) == TensorRole.QUANTIZE) {
                QuantizedTensorNames q = o.plan.quantized(t.name());
                if (o.layout.entry(q.absmax()).end() > o.firstPending(q.quantState())) {
                    throw QuantflowException.of(Reason.LAYOUT_UNSUPPORTED, "tensor names around " + q.packed()
                            + " nest in a way that prevents a streaming layout");
                }
                quantizing = o;
            }
        }
        float[] absmax;
        ErrorSums error = null;
        if (pass != null && accelerated(t)) {
            absmax = pass.quantize(t.stored(), quantizing.offset(t.name()));
        } else {
            error = new ErrorSums();
            absmax = writeChunks(t, quantizing, error);
        }
        if (quantizing != null) {
            finishQuantized(quantizing, quantizing.plan.quantized(t.name()), absmax, error);
        }
    }

    /** Values per chunk of a tensor quantized with blocksize {@code bs}: a whole number of blocks. */
    static long chunkElements(int bs) {
        return Math.max(bs, (CHUNK_ELEMENTS / bs) * (long) bs);
    }

    /** Writes the tensor's chunks; when one output quantizes it, returns its absmax values and adds its error to {@code error}. */
    private float[] writeChunks(SourceTensor t, Out quantizing, ErrorSums error) throws IOException {
        TensorValues values = t.values();
        values.prepare(pool);
        long n = t.elements();
        long chunk = CHUNK_ELEMENTS;
        float[] absmax = null;
        int bs = 0;
        if (quantizing != null) {
            QuantizedTensorNames q = quantizing.plan.quantized(t.name());
            bs = q.options().blocksize();
            chunk = chunkElements(bs);
            if (q.blocks() > Integer.MAX_VALUE - 8) {
                throw QuantflowException.of(Reason.TENSOR_TOO_LARGE, t.name() + " has too many elements to quantize");
            }
            absmax = new float[(int) q.blocks()];
        }
        boolean fused = quantizing != null && quantizesStoredBf16(t, quantizing.plan.target(t));
        List<Future<?>> tasks = new ArrayList<>();
        double bytesPerValue = values.sourceBytesPerValue();
        int chunks = (int) ((n + chunk - 1) / chunk);
        // one sum per chunk, added in chunk order: the same totals whatever thread ran which chunk
        ErrorSums[] partials = new ErrorSums[quantizing != null ? chunks : 0];
        for (int c = 0; c < chunks; c++) {
            long s = c * chunk;
            int len = (int) Math.min(chunk, n - s);
            float[] am = absmax;
            int blocksize = bs;
            int k = c;
            tasks.add(pool.submit(() -> {
                writeChunk(t, s, len, am, blocksize, partials, k, fused);
                progress.accept((long) (len * bytesPerValue));
                return null;
            }));
        }
        await(tasks);
        values.release();
        for (ErrorSums p : partials) {
            error.add(p);
        }
        return absmax;
    }

    /**
     * Whether {@code t}'s chunks are quantized to {@code target} straight from their stored bytes
     * ({@link BlockwiseQuantizer#quantizeBf16(byte[], int, int, int, byte[], int, float[], int, DType, ErrorSums)},
     * which decodes in registers): a stored BF16 tensor, unchanged, quantized in BF16 (no rounding between).
     * The conversion and the measuring pass of {@code --dynamic} both decide by this, so that they measure alike.
     */
    static boolean quantizesStoredBf16(SourceTensor t, DType target) {
        TensorValues v = t.values();
        return target == DType.BF16 && !t.transformed() && v.stored() != null && v.dtype() == DType.BF16
                && v.stored().info().dtype() == DType.BF16;
    }

    /** Reads the stored bytes of values {@code [start, start + n)} of a tensor {@link #quantizesStoredBf16} holds for into {@code scratch.raw()}. */
    static void readStoredBf16(SourceTensor t, long start, int n, TensorValues.Scratch scratch) throws IOException {
        TensorValues.Stored stored = t.values().stored();
        stored.file().read(stored.info(), start * 2, scratch.raw(n * 2));
    }

    private void writeChunk(SourceTensor t, long start, int n, float[] absmax, int bs, ErrorSums[] partials, int chunk,
                            boolean fused) throws IOException {
        TensorValues.Scratch scratch = SCRATCH.get();
        if (fused && outs.stream().noneMatch(o -> o.plan.role(t.name()) == TensorRole.CONVERT)) {
            // the stored bytes only: the quantizer decodes them itself, and no output needs the float values
            readStoredBf16(t, start, n, scratch);
        } else {
            t.values().read(start, n, scratch);
        }
        float[] values = scratch.values();
        for (Out o : outs) {
            switch (o.plan.role(t.name())) {
                case COPY -> {
                    int size = t.dtype().size();
                    ByteBuffer raw = scratch.raw().duplicate();
                    raw.position(0).limit(n * size);
                    o.file.write(o.offset(t.name()) + start * size, raw);
                }
                case CONVERT -> {
                    DType d = o.plan.writtenDtype(t.name());
                    byte[] bytes = scratch.out(n * d.size());
                    DtypeEncoding.encode(d, values, 0, n, bytes, 0);
                    o.file.write(o.offset(t.name()) + start * d.size(), ByteBuffer.wrap(bytes, 0, n * d.size()));
                }
                case QUANTIZE -> {
                    byte[] packed = scratch.out((n + 1) / 2);
                    ErrorSums sums = new ErrorSums();
                    if (fused) {
                        quantizer.quantizeBf16(scratch.raw().array(), 0, n, bs, packed, 0, absmax, (int) (start / bs),
                                DType.BF16, sums);
                        partials[chunk] = sums;
                        o.file.write(o.offset(t.name()) + start / 2, ByteBuffer.wrap(packed, 0, (n + 1) / 2));
                        continue;
                    }
                    float[] in = values;
                    DType d = o.plan.target(t);
                    if (d != t.values().dtype()) {
                        in = scratch.spare(n);
                        System.arraycopy(values, 0, in, 0, n);
                        DtypeEncoding.round(d, in, 0, n);
                    }
                    quantizer.quantize(in, 0, n, bs, packed, 0, absmax, (int) (start / bs), d, sums);
                    partials[chunk] = sums;
                    o.file.write(o.offset(t.name()) + start / 2, ByteBuffer.wrap(packed, 0, (n + 1) / 2));
                }
            }
        }
    }

    /**
     * Fixes a quantized tensor's quant state (it needs only the offset, a mean, so the next tensor's
     * place is known at once) and queues its statistics on the pool.
     */
    private void finishQuantized(Out o, QuantizedTensorNames q, float[] absmax, ErrorSums error) throws IOException {
        QuantOptions options = q.options();
        if (error != null) {
            o.statistics.add(pool.submit(() -> {
                o.measured.put(q.weight(), new MeasuredTensor(error, AbsmaxOutliers.of(absmax, absmax.length)));
                return null;
            }));
        }
        float offset = options.doubleQuant() ? DoubleQuantizer.offset(absmax, absmax.length) : 0f;
        o.file.write(o.offset(q.quantMap()), littleEndian(options.quantType().codebook()));
        if (!options.doubleQuant()) {
            o.file.write(o.offset(q.absmax()), littleEndian(absmax));
        } else {
            o.file.write(o.offset(q.nestedQuantMap()), littleEndian(DynamicMap.signed()));
            submitDoubleQuant(o, q, absmax, offset);
        }
        byte[] state = q.state(offset).toJson();
        o.stateLengths.put(q.quantState(), state.length);
        o.refresh();
        o.file.write(o.offset(q.quantState()), ByteBuffer.wrap(state));
    }

    private void submitDoubleQuant(Out o, QuantizedTensorNames q, float[] absmax, float offset) {
        int count = absmax.length;
        int nested = DoubleQuantizer.nestedBlocks(count);
        long codesAt = o.offset(q.absmax());
        long scalesAt = o.offset(q.nestedAbsmax());
        int perTask = STATISTICS_BLOCKS / DoubleQuantizer.NESTED_BLOCKSIZE;
        for (int from = 0; from < nested; from += perTask) {
            int f = from;
            int to = Math.min(nested, from + perTask);
            o.statistics.add(pool.submit(() -> {
                int first = f * DoubleQuantizer.NESTED_BLOCKSIZE;
                int last = Math.min(count, to * DoubleQuantizer.NESTED_BLOCKSIZE);
                byte[] codes = new byte[last - first];
                float[] scales = new float[to - f];
                DoubleQuantizer.quantizeNested(absmax, count, offset, f, to, codes, scales);
                o.file.write(codesAt + first, ByteBuffer.wrap(codes));
                o.file.write(scalesAt + 4L * f, littleEndian(scales));
                return null;
            }));
        }
    }

    /** A tensor every output copies: its stored bytes, read once in pieces, written to each output. */
    private void submitCopy(SourceTensor t, List<Future<?>> tasks) {
        TensorInfo src = t.stored();
        long total = src.byteSize();
        long[] at = new long[outs.size()];
        for (int i = 0; i < outs.size(); i++) {
            outs.get(i).refresh();
            at[i] = outs.get(i).offset(t.name());
        }
        for (long off = 0; off < total; off += COPY_BYTES) {
            long o = off;
            int len = (int) Math.min(COPY_BYTES, total - off);
            tasks.add(pool.submit(() -> {
                ByteBuffer buf = COPY_BUFFER.get();
                buf.clear().limit(len);
                shard.file().read(src, o, buf);
                for (int i = 0; i < outs.size(); i++) {
                    buf.flip();
                    outs.get(i).file.write(at[i] + o, buf);
                }
                progress.accept(len);
                return null;
            }));
        }
    }

    static ByteBuffer littleEndian(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return b;
    }

    /** Waits for every task; on the first failure cancels the rest and rethrows it. */
    static void await(List<Future<?>> tasks) throws IOException {
        try {
            for (Future<?> f : tasks) {
                f.get();
            }
        } catch (InterruptedException e) {
            tasks.forEach(f -> f.cancel(true));
            Thread.currentThread().interrupt();
            throw QuantflowException.of(Reason.INTERRUPTED, "conversion interrupted");
        } catch (ExecutionException e) {
            tasks.forEach(f -> f.cancel(true));
            Throwable c = e.getCause();
            if (c instanceof IOException io) {
                throw io;
            }
            if (c instanceof RuntimeException re) {
                throw re;
            }
            if (c instanceof Error err) {
                throw err;
            }
            throw QuantflowException.of(Reason.WORKER_FAILED, String.valueOf(c), c);
        }
    }
}
