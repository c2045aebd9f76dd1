package io.quantflow.core.convert;

import io.quantflow.core.concurrent.Tasks;
import io.quantflow.core.format.EncodedWeight;
import io.quantflow.core.format.TensorRole;
import io.quantflow.core.format.TensorSink;
import io.quantflow.core.format.WeightEncoding;
import io.quantflow.core.model.SourceTensor;
import io.quantflow.core.model.TensorValues;
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
 * The measuring pass of {@code --dynamic}: every weight an output would quantize is read and encoded
 * with nothing written, and its error measured exactly as the conversion measures it (the same chunks
 * handed to the same encoding, so the same sums). Memory: one chunk per thread, and what the codec keeps
 * per weight.
 */
final class ErrorSurvey {
    private static final ThreadLocal<TensorValues.Scratch> SCRATCH = ThreadLocal.withInitial(TensorValues.Scratch::new);

    private ErrorSurvey() {
    }

    /** The error of each weight {@code plans} quantize, by tensor name, in name order within each shard. */
    static Map<String, ErrorSums> measure(List<ShardPlan> plans, ExecutorService pool, LongConsumer progress) throws IOException {
        Map<String, ErrorSums> out = new LinkedHashMap<>();
        for (ShardPlan plan : plans) {
            List<SourceTensor> tensors = new ArrayList<>(plan.shard().tensors());
            tensors.sort(Comparator.comparing(SourceTensor::name));
            for (SourceTensor t : tensors) {
                if (plan.role(t.name()) == TensorRole.QUANTIZE) {
                    out.put(t.name(), measure(t, plan, pool, progress));
                }
            }
        }
        return out;
    }

    private static ErrorSums measure(SourceTensor t, ShardPlan plan, ExecutorService pool, LongConsumer progress)
            throws IOException {
        EncodedWeight w = plan.encoded(t.name());
        WeightEncoding encoding = w.start();
        DType target = plan.target(t);
        TensorValues values = t.values();
        values.prepare(pool);
        long n = t.elements();
        long chunk = ShardWriter.chunkElements(List.of(w));
        int chunks = (int) ((n + chunk - 1) / chunk);
        ErrorSums[] partials = new ErrorSums[chunks];
        double bytesPerValue = values.sourceBytesPerValue();
        boolean raw = ShardWriter.readsStoredBf16(t, target, encoding);
        List<Future<?>> tasks = new ArrayList<>();
        for (int c = 0; c < chunks; c++) {
            int k = c;
            long start = c * chunk;
            int len = (int) Math.min(chunk, n - start);
            tasks.add(pool.submit(() -> {
                TensorValues.Scratch scratch = SCRATCH.get();
                if (raw) {
                    // as the conversion reads it (ShardWriter.readsStoredBf16), so the same sums
                    ShardWriter.readStoredBf16(t, start, len, scratch);
                } else {
                    values.read(start, len, scratch);
                }
                partials[k] = encoding.encode(ShardWriter.chunk(t, target, encoding, start, len, scratch), TensorSink.DISCARD);
                progress.accept((long) (len * bytesPerValue));
                return null;
            }));
        }
        Tasks.await(tasks);
        values.release();
        ErrorSums total = new ErrorSums();
        for (ErrorSums p : partials) {
            total.add(p);
        }
        return total;
    }
}
