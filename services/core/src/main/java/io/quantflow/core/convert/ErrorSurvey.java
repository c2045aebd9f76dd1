package io.quantflow.core.convert;

import io.quantflow.core.format.TensorRole;
import io.quantflow.core.quant.BlockwiseQuantizer;
import io.quantflow.core.quant.DtypeEncoding;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.safetensors.DType;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.function.LongConsumer;

/**
 * The measuring pass of {@code --dynamic}: every weight an output would quantize is read and
 * quantized in memory, nothing written, and its error measured exactly as the conversion measures it
 * (same chunks, same quantizer, so the same sums). Memory: one chunk per thread.
 */
final class ErrorSurvey {
    private static final ThreadLocal<TensorValues.Scratch> SCRATCH = ThreadLocal.withInitial(TensorValues.Scratch::new);

    private ErrorSurvey() {
    }

    /** The error of each weight {@code plans} quantize, by tensor name, in name order within each shard. */
    static Map<String, ErrorSums> measure(List<ShardPlan> plans, BlockwiseQuantizer quantizer, ExecutorService pool,
                                          LongConsumer progress) throws IOException {
        Map<String, ErrorSums> out = new LinkedHashMap<>();
        for (ShardPlan plan : plans) {
            List<SourceTensor> tensors = new ArrayList<>(plan.shard().tensors());
            tensors.sort(Comparator.comparing(SourceTensor::name));
            for (SourceTensor t : tensors) {
                if (plan.role(t.name()) == TensorRole.QUANTIZE) {
                    out.put(t.name(), measure(t, plan, quantizer, pool, progress));
                }
            }
        }
        return out;
    }

    private static ErrorSums measure(SourceTensor t, ShardPlan plan, BlockwiseQuantizer quantizer, ExecutorService pool,
                                     LongConsumer progress) throws IOException {
        QuantizedTensorNames q = plan.quantized(t.name());
        int bs = q.options().blocksize();
        DType target = plan.target(t);
        TensorValues values = t.values();
        values.prepare(pool);
        long n = t.elements();
        long chunk = ShardWriter.chunkElements(bs);
        int chunks = (int) ((n + chunk - 1) / chunk);
        ErrorSums[] partials = new ErrorSums[chunks];
        double bytesPerValue = values.sourceBytesPerValue();
        boolean fused = ShardWriter.quantizesStoredBf16(t, target);
        List<Future<?>> tasks = new ArrayList<>();
        for (int c = 0; c < chunks; c++) {
            int k = c;
            long start = c * chunk;
            int len = (int) Math.min(chunk, n - start);
            tasks.add(pool.submit(() -> {
                TensorValues.Scratch scratch = SCRATCH.get();
                byte[] packed = scratch.out((len + 1) / 2);
                float[] absmax = scratch.absmax((len + bs - 1) / bs);
                ErrorSums sums = new ErrorSums();
                if (fused) {
                    // as the conversion quantizes it (ShardWriter.quantizesStoredBf16), so the same sums
                    ShardWriter.readStoredBf16(t, start, len, scratch);
                    quantizer.quantizeBf16(scratch.raw().array(), 0, len, bs, packed, 0, absmax, 0, target, sums);
                    partials[k] = sums;
                    progress.accept((long) (len * bytesPerValue));
                    return null;
                }
                values.read(start, len, scratch);
                float[] in = scratch.values();
                if (target != values.dtype()) {
                    in = scratch.spare(len);
                    System.arraycopy(scratch.values(), 0, in, 0, len);
                    DtypeEncoding.round(target, in, 0, len);
                }
                quantizer.quantize(in, 0, len, bs, packed, 0, absmax, 0, target, sums);
                partials[k] = sums;
                progress.accept((long) (len * bytesPerValue));
                return null;
            }));
        }
        ShardWriter.await(tasks);
        values.release();
        ErrorSums total = new ErrorSums();
        for (ErrorSums p : partials) {
            total.add(p);
        }
        return total;
    }
}
