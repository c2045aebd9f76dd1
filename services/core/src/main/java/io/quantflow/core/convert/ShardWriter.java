package io.quantflow.core.convert;

import io.quantflow.core.concurrent.Tasks;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.EncodedWeight;
import io.quantflow.core.format.TensorRole;
import io.quantflow.core.format.TensorSink;
import io.quantflow.core.format.WeightEncoding;
import io.quantflow.core.model.SourceShard;
import io.quantflow.core.model.SourceTensor;
import io.quantflow.core.model.TensorValues;
import io.quantflow.core.quality.MeasuredTensor;
import io.quantflow.core.quant.DtypeEncoding;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.quant.TensorQuantizer;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsLayout;
import io.quantflow.core.safetensors.SafetensorsOutput;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.safetensors.TensorSpec;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.function.LongConsumer;

/**
 * Writes one source shard into every output at once, reading the source once: tensors every output
 * copies are copied; the others are read chunk by chunk as values (decoded, merged...), and each
 * chunk goes to every output as its role says (stored bytes, 16-bit values, or the output format's
 * {@link io.quantflow.core.format.WeightCodec} encoding). Every byte goes straight to its final position
 * from a pool of threads; each thread holds one chunk at a time, so memory is a few chunks per thread plus
 * what the codec keeps per weight (one float per block for bitsandbytes), whatever the model size.
 *
 * <p>Tensors with values are done in name order, each one's chunks in parallel; what a codec computes from
 * a whole weight (bitsandbytes' double quantization) runs on the pool while the next tensor runs
 * (docs/adr/0001).
 *
 * <p>{@link #write(ShardPlan, Path, TensorQuantizer, ExecutorService)} writes one output's file alone: the
 * same bytes, for the pipeline that converts a model shard by shard.
 */
public final class ShardWriter {
    /** Bytes per copy task. */
    static final int COPY_BYTES = 8 << 20;

    private static final ThreadLocal<TensorValues.Scratch> SCRATCH = ThreadLocal.withInitial(TensorValues.Scratch::new);
    private static final ThreadLocal<ByteBuffer> COPY_BUFFER = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(COPY_BYTES));

    private final SourceShard shard;
    private final List<Out> outs = new ArrayList<>();
    private final TensorQuantizer accelerator;
    private final ExecutorService pool;
    private final LongConsumer progress;

    /** One output file being written, with what is known of its layout so far. */
    private static final class Out implements TensorSink {
        final ShardPlan plan;
        final SafetensorsOutput file;
        final Map<String, Integer> lateLengths = new HashMap<>();
        final List<Future<?>> background = new ArrayList<>();
        final Map<String, MeasuredTensor> measured;
        volatile SafetensorsLayout layout;

        Out(ShardPlan plan, SafetensorsOutput file, Map<String, MeasuredTensor> measured) {
            this.plan = plan;
            this.file = file;
            this.measured = measured;
            this.layout = plan.layout(lateLengths);
        }

        void refresh() {
            layout = plan.layout(lateLengths);
        }

        long offset(String tensor) {
            return layout.entry(tensor).begin();
        }

        @Override
        public void write(String tensor, long at, ByteBuffer bytes) throws IOException {
            file.write(offset(tensor) + at, bytes);
        }

        /** Where the first tensor of unknown length begins (other than {@code except}); MAX when none. */
        long firstPending(String except) {
            long first = Long.MAX_VALUE;
            for (EncodedWeight w : plan.encoded()) {
                String late = w.lateTensor();
                if (late != null && !lateLengths.containsKey(late) && !late.equals(except)) {
                    first = Math.min(first, layout.entry(late).begin());
                }
            }
            return first;
        }

        /**
         * Starts encoding a weight, after checking that its tensors (but the late one) are placed for good:
         * no tensor of unknown length lies before them.
         */
        WeightEncoding start(EncodedWeight w) {
            long end = 0;
            for (TensorSpec spec : w.specs(w.maxLateLength())) {
                if (!spec.name().equals(w.lateTensor())) {
                    end = Math.max(end, layout.entry(spec.name()).end());
                }
            }
            if (end > firstPending(w.lateTensor())) {
                throw QuantflowException.of(Reason.LAYOUT_UNSUPPORTED, "tensor names around " + w.name()
                        + " nest in a way that prevents a streaming layout");
            }
            return w.start();
        }

        /** Places the late tensor of a finished weight. */
        void finish(EncodedWeight w, byte[] late) throws IOException {
            if (w.lateTensor() == null) {
                return;
            }
            lateLengths.put(w.lateTensor(), late.length);
            refresh();
            file.write(offset(w.lateTensor()), ByteBuffer.wrap(late));
        }
    }

    /**
     * @param accelerator when not null, encodes stored tensors of a lone output whose codec it serves (a GPU)
     */
    ShardWriter(SourceShard shard, TensorQuantizer accelerator, ExecutorService pool, LongConsumer progress) {
        this.shard = shard;
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
    public static Written write(ShardPlan plan, Path file, TensorQuantizer accelerator, ExecutorService pool) throws IOException {
        Map<String, MeasuredTensor> measured = new ConcurrentHashMap<>();
        SafetensorsLayout layout = new ShardWriter(plan.shard(), accelerator, pool, n -> {
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
                Tasks.await(o.background);
                o.refresh();
            }
            for (SourceTensor t : late) {
                submitCopy(t, copies);
            }
            Tasks.await(copies);
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
        return o.plan.role(t.name()) == TensorRole.QUANTIZE && o.plan.codec().accelerable() && o.plan.target(t) == t.dtype();
    }

    /** A tensor whose values some output needs: its chunks once, then each encoding output finishes it. */
    private void writeComputed(SourceTensor t, TensorQuantizer.Pass pass) throws IOException {
        Map<Out, WeightEncoding> encodings = new LinkedHashMap<>();
        for (Out o : outs) {
            o.refresh();
            if (o.plan.role(t.name()) == TensorRole.QUANTIZE) {
                encodings.put(o, o.start(o.plan.encoded(t.name())));
            }
        }
        Map<Out, ErrorSums> errors;
        if (pass != null && accelerated(t)) {
            Out o = outs.get(0);
            encodings.get(o).acceleratedScales(pass.quantize(t.stored(), o.offset(t.name())));
            errors = new HashMap<>();
        } else {
            errors = writeChunks(t, encodings);
        }
        for (Map.Entry<Out, WeightEncoding> e : encodings.entrySet()) {
            Out o = e.getKey();
            byte[] late = e.getValue().finish(errors.get(o), m -> o.measured.put(t.name(), m), o, pool, o.background);
            o.finish(o.plan.encoded(t.name()), late);
        }
    }

    /**
     * Values per chunk of a tensor: {@link TensorValues#CHUNK_ELEMENTS}, made a whole number of every encoding's blocks.
     */
    static long chunkElements(List<EncodedWeight> encoded) {
        long chunk = TensorValues.CHUNK_ELEMENTS;
        for (EncodedWeight w : encoded) {
            chunk = w.chunkElements(chunk);
        }
        return chunk;
    }

    /** Writes the tensor's chunks to every output; returns what each encoding output's chunks lost, summed in chunk order. */
    private Map<Out, ErrorSums> writeChunks(SourceTensor t, Map<Out, WeightEncoding> encodings) throws IOException {
        TensorValues values = t.values();
        values.prepare(pool);
        long n = t.elements();
        long chunk = chunkElements(encodings.keySet().stream().map(o -> o.plan.encoded(t.name())).toList());
        boolean rawOnly = !encodings.isEmpty() && encodings.keySet().stream().allMatch(o -> readsStoredBf16(t, o.plan.target(t),
                encodings.get(o))) && outs.stream().noneMatch(o -> o.plan.role(t.name()) == TensorRole.CONVERT);
        List<Future<?>> tasks = new ArrayList<>();
        double bytesPerValue = values.sourceBytesPerValue();
        int chunks = (int) ((n + chunk - 1) / chunk);
        // one sum per chunk, added in chunk order: the same totals whatever thread ran which chunk
        Map<Out, ErrorSums[]> partials = new LinkedHashMap<>();
        encodings.keySet().forEach(o -> partials.put(o, new ErrorSums[chunks]));
        for (int c = 0; c < chunks; c++) {
            long s = c * chunk;
            int len = (int) Math.min(chunk, n - s);
            int k = c;
            tasks.add(pool.submit(() -> {
                writeChunk(t, s, len, encodings, partials, k, rawOnly);
                progress.accept((long) (len * bytesPerValue));
                return null;
            }));
        }
        Tasks.await(tasks);
        values.release();
        Map<Out, ErrorSums> errors = new HashMap<>();
        partials.forEach((o, p) -> {
            ErrorSums total = new ErrorSums();
            for (ErrorSums e : p) {
                total.add(e);
            }
            errors.put(o, total);
        });
        return errors;
    }

    /**
     * Whether {@code t}'s chunks are encoded in {@code target} straight from their stored bytes (the codec
     * decodes in registers): a stored BF16 tensor, unchanged, quantized in BF16 (no rounding between) by an
     * encoding that takes BF16 bytes. The conversion and the measuring pass of {@code --dynamic} both decide
     * by this, so that they measure alike.
     */
    static boolean readsStoredBf16(SourceTensor t, DType target, WeightEncoding encoding) {
        TensorValues v = t.values();
        return encoding.encodesBf16() && target == DType.BF16 && !t.transformed() && v.stored() != null
                && v.dtype() == DType.BF16 && v.stored().info().dtype() == DType.BF16;
    }

    /** Reads the stored bytes of values {@code [start, start + n)} of a stored BF16 tensor into {@code scratch.raw()}. */
    static void readStoredBf16(SourceTensor t, long start, int n, TensorValues.Scratch scratch) throws IOException {
        TensorValues.Stored stored = t.values().stored();
        stored.file().read(stored.info(), start * 2, scratch.raw(n * 2));
    }

    /**
     * The chunk an encoding is given: the stored BF16 bytes when it reads them ({@link #readsStoredBf16}), else the
     * values in {@code target}, rounded into a spare buffer when that is not the values' own dtype.
     */
    static WeightEncoding.Chunk chunk(SourceTensor t, DType target, WeightEncoding encoding, long start, int n,
                                      TensorValues.Scratch scratch) {
        if (readsStoredBf16(t, target, encoding)) {
            return new WeightEncoding.Chunk(start, n, null, scratch.raw().array(), scratch::out);
        }
        float[] in = scratch.values();
        if (target != t.values().dtype()) {
            in = scratch.spare(n);
            System.arraycopy(scratch.values(), 0, in, 0, n);
            DtypeEncoding.round(target, in, 0, n);
        }
        return new WeightEncoding.Chunk(start, n, in, null, scratch::out);
    }

    private void writeChunk(SourceTensor t, long start, int n, Map<Out, WeightEncoding> encodings,
                            Map<Out, ErrorSums[]> partials, int chunk, boolean rawOnly) throws IOException {
        TensorValues.Scratch scratch = SCRATCH.get();
        if (rawOnly) {
            // the stored bytes only: the codecs decode them themselves, and no output needs the float values
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
                    WeightEncoding e = encodings.get(o);
                    partials.get(o)[chunk] = e.encode(chunk(t, o.plan.target(t), e, start, n, scratch), o);
                }
            }
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
}
