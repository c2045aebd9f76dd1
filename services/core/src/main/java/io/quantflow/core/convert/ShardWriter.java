package io.quantflow.core.convert;

import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.quant.DoubleQuantizer;
import io.quantflow.core.quant.DynamicMap;
import io.quantflow.core.safetensors.SafetensorsLayout;
import io.quantflow.core.safetensors.SafetensorsOutput;
import io.quantflow.core.safetensors.TensorInfo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.function.LongConsumer;

/**
 * Writes one output shard: copied tensors and quantized chunks go straight to their final positions
 * from a pool of threads (the quantized ones through a {@link TensorQuantizer}); each thread holds one
 * chunk at a time, so memory is a few chunks per thread plus one float per block of the tensor being
 * quantized, whatever the model size.
 *
 * <p>Quantized tensors are done in file order through one {@link TensorQuantizer.Pass}, which may read
 * ahead across tensors; with double quantization a tensor's absmax codes and quant state are
 * computed once all its chunks are in. The file is not forced to the disk here: the converter does
 * that, with its hash, while the next shard is written.
 */
final class ShardWriter {
    /** Bytes per copy task. */
    static final int COPY_BYTES = 8 << 20;

    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

    private final ShardPlan plan;
    private final QuantOptions options;
    private final TensorQuantizer tensors;
    private final ExecutorService pool;
    private final LongConsumer progress;

    ShardWriter(ShardPlan plan, QuantOptions options, TensorQuantizer tensors, ExecutorService pool, LongConsumer progress) {
        this.plan = plan;
        this.options = options;
        this.tensors = tensors;
        this.pool = pool;
        this.progress = progress;
    }

    /** Writes the shard to {@code out}; returns the final layout. */
    SafetensorsLayout write(Path out) throws IOException {
        Map<String, Integer> stateLengths = new HashMap<>();
        try (SafetensorsOutput output = SafetensorsOutput.create(out, plan.reservedHeaderLength())) {
            SafetensorsLayout layout = plan.layout(stateLengths);
            long firstPending = firstPending(layout, stateLengths, null);
            List<Future<?>> copies = new ArrayList<>();
            List<TensorInfo> late = new ArrayList<>();
            for (TensorInfo t : plan.copied()) {
                TensorInfo dst = layout.entry(t.name());
                if (dst.end() <= firstPending) {
                    submitCopy(t, dst.begin(), output, copies);
                } else {
                    late.add(t);
                }
            }
            List<Future<?>> statistics = new ArrayList<>();
            List<TensorInfo> order = plan.quantized().stream().map(QuantizedTensorNames::source).toList();
            try (TensorQuantizer.Pass pass = tensors.open(plan.source(), order, options, output, progress)) {
                for (QuantizedTensorNames q : plan.quantized()) {
                    layout = plan.layout(stateLengths);
                    if (layout.entry(q.absmax()).end() > firstPending(layout, stateLengths, q)) {
                        throw new QuantflowException(ErrorCode.UNSUPPORTED_MODEL, "tensor names around " + q.packed()
                                + " nest in a way that prevents a streaming layout");
                    }
                    float[] absmax = pass.quantize(q.source(), layout.entry(q.packed()).begin());
                    // the quant state needs only the offset (a mean): once it is known the next tensor's place is
                    // known, and the 8-bit absmax codes are computed by the pool while that tensor is quantized
                    float offset = options.doubleQuant() ? DoubleQuantizer.offset(absmax, absmax.length) : 0f;
                    submitStatistics(q, absmax, offset, layout, output, statistics);
                    byte[] state = q.state(offset).toJson();
                    stateLengths.put(q.quantState(), state.length);
                    layout = plan.layout(stateLengths);
                    output.write(layout.entry(q.quantState()).begin(), ByteBuffer.wrap(state));
                }
            }
            await(statistics);
            layout = plan.layout(stateLengths);
            for (TensorInfo t : late) {
                submitCopy(t, layout.entry(t.name()).begin(), output, copies);
            }
            await(copies);
            output.finish(layout);
            return layout;
        }
    }

    /** Where the first quant state of unknown length begins (other than {@code except}'s); MAX when none. */
    private static long firstPending(SafetensorsLayout layout, Map<String, Integer> known, QuantizedTensorNames except) {
        long first = Long.MAX_VALUE;
        for (TensorInfo e : layout.entries()) {
            String n = e.name();
            if (n.contains(".quant_state.bitsandbytes__") && !known.containsKey(n)
                    && (except == null || !n.equals(except.quantState()))) {
                first = Math.min(first, e.begin());
            }
        }
        return first;
    }

    /** Absmax values per statistics task (a multiple of the nested blocksize). */
    static final int STATISTICS_BLOCKS = 1 << 16;

    /** Writes the code map and absmax, or queues the double quantization of absmax in parallel ranges. */
    private void submitStatistics(QuantizedTensorNames q, float[] absmax, float offset, SafetensorsLayout layout,
                                  SafetensorsOutput output, List<Future<?>> tasks) throws IOException {
        output.write(layout.entry(q.quantMap()).begin(), littleEndian(options.quantType().codebook()));
        if (!options.doubleQuant()) {
            output.write(layout.entry(q.absmax()).begin(), littleEndian(absmax));
            return;
        }
        output.write(layout.entry(q.nestedQuantMap()).begin(), littleEndian(DynamicMap.signed()));
        int count = absmax.length;
        int nested = DoubleQuantizer.nestedBlocks(count);
        long codesAt = layout.entry(q.absmax()).begin();
        long scalesAt = layout.entry(q.nestedAbsmax()).begin();
        int perTask = STATISTICS_BLOCKS / DoubleQuantizer.NESTED_BLOCKSIZE;
        for (int from = 0; from < nested; from += perTask) {
            int f = from;
            int to = Math.min(nested, from + perTask);
            tasks.add(pool.submit(() -> {
                int first = f * DoubleQuantizer.NESTED_BLOCKSIZE;
                int last = Math.min(count, to * DoubleQuantizer.NESTED_BLOCKSIZE);
                byte[] codes = new byte[last - first];
                float[] scales = new float[to - f];
                DoubleQuantizer.quantizeNested(absmax, count, offset, f, to, codes, scales);
                output.write(codesAt + first, ByteBuffer.wrap(codes));
                output.write(scalesAt + 4L * f, littleEndian(scales));
                return null;
            }));
        }
    }

    private void submitCopy(TensorInfo src, long dstOffset, SafetensorsOutput output, List<Future<?>> tasks) {
        long total = src.byteSize();
        for (long off = 0; off < total; off += COPY_BYTES) {
            long o = off;
            int len = (int) Math.min(COPY_BYTES, total - off);
            tasks.add(pool.submit(() -> {
                ByteBuffer buf = BUFFERS.get().copy(len);
                plan.source().read(src, o, buf);
                buf.flip();
                output.write(dstOffset + o, buf);
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
            throw new QuantflowException(ErrorCode.INTERNAL, "conversion interrupted");
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
            throw new QuantflowException(ErrorCode.INTERNAL, String.valueOf(c), c);
        }
    }

    /** Per-thread copy buffer, grown on demand and reused. */
    private static final class Buffers {
        private ByteBuffer copy = ByteBuffer.allocateDirect(0);

        ByteBuffer copy(int bytes) {
            if (copy.capacity() < bytes) {
                copy = ByteBuffer.allocateDirect(Math.max(bytes, COPY_BYTES));
            }
            copy.clear().limit(bytes);
            return copy;
        }
    }
}
