package io.quantflow.core.model;

import io.quantflow.core.concurrent.Tasks;
import io.quantflow.core.merge.DeltaApplier;
import io.quantflow.core.merge.LoraDelta;
import io.quantflow.core.quant.DtypeEncoding;
import io.quantflow.core.safetensors.DType;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.function.Supplier;

/**
 * A base tensor with an adapter merged in, as PEFT's {@code merge_and_unload} computes it in float32
 * and rounds once to the 16-bit dtype:
 * <ul>
 *   <li>a weight: {@code W + scale * B @ A} ({@link LoraDelta});</li>
 *   <li>with DoRA: {@code m / ||W + scale * B @ A||_row * (W + scale * B @ A)}, the norm of each
 *       output row computed in a pass before the values are read;</li>
 *   <li>a bias with {@code lora_bias}: {@code b + scale * lora_B.bias}.</li>
 * </ul>
 */
final class MergedValues implements TensorValues {
    /** The adapter's side of a merge, read from the adapter file when the tensor comes up. */
    interface Update {
        /** The low-rank update, or null for a bias. */
        LoraDelta delta();

        /** DoRA's magnitude per output row, or null. */
        float[] magnitude();

        /** lora_B's bias, or null. */
        float[] bias();

        float scale();
    }

    private final TensorValues base;
    private final DType dtype;
    private final Supplier<Update> source;
    private final DeltaApplier applier;
    private volatile LoraDelta delta;
    private volatile float[] magnitude;
    private volatile float[] biasDelta;
    private volatile float biasScale;
    private volatile float[] doraFactor;
    private volatile boolean loaded;

    MergedValues(TensorValues base, DType dtype, Supplier<Update> source, DeltaApplier applier) {
        this.base = base;
        this.dtype = dtype;
        this.source = source;
        this.applier = applier;
    }

    private synchronized void load() {
        if (loaded) {
            return;
        }
        Update u = source.get();
        delta = u.delta();
        magnitude = u.magnitude();
        biasDelta = u.bias();
        biasScale = u.scale();
        loaded = true;
    }

    @Override
    public void release() {
        synchronized (this) {
            loaded = false;
            delta = null;
            magnitude = null;
            biasDelta = null;
            doraFactor = null;
        }
        base.release();
    }

    @Override
    public String name() {
        return base.name();
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
    public long[] shape() {
        return base.shape();
    }

    @Override
    public Stored stored() {
        return null;
    }

    @Override
    public double sourceBytesPerValue() {
        return base.sourceBytesPerValue();
    }

    @Override
    public void prepare(ExecutorService pool) throws IOException {
        base.prepare(pool);
        load();
        if (magnitude == null || doraFactor != null) {
            return;
        }
        int rows = delta.rows();
        int cols = delta.cols();
        float[] factor = new float[rows];
        int rowsPerTask = Math.max(1, TensorValues.CHUNK_ELEMENTS / Math.max(1, cols));
        List<Future<?>> tasks = new ArrayList<>();
        for (int r0 = 0; r0 < rows; r0 += rowsPerTask) {
            int first = r0;
            int count = Math.min(rowsPerTask, rows - r0);
            tasks.add(pool.submit(() -> {
                Scratch scratch = new Scratch();
                int n = count * cols;
                base.read((long) first * cols, n, scratch);
                float[] v = scratch.values();
                applier.apply(delta, (long) first * cols, n, v, 0);
                for (int r = 0; r < count; r++) {
                    double sum = 0;
                    for (int c = 0; c < cols; c++) {
                        double x = v[r * cols + c];
                        sum += x * x;
                    }
                    factor[first + r] = magnitude[first + r] / (float) Math.sqrt(sum);
                }
                return null;
            }));
        }
        Tasks.await(tasks);
        doraFactor = factor;
    }

    @Override
    public void read(long start, int n, Scratch scratch) throws IOException {
        if (!loaded) {
            throw new IllegalStateException("merge of " + name() + " read before prepare");
        }
        base.read(start, n, scratch);
        float[] v = scratch.values();
        if (delta != null) {
            applier.apply(delta, start, n, v, 0);
            if (magnitude != null) {
                float[] f = doraFactor;
                if (f == null) {
                    throw new IllegalStateException("DoRA factors not prepared for " + name());
                }
                int cols = delta.cols();
                for (int i = 0; i < n; i++) {
                    v[i] = f[(int) ((start + i) / cols)] * v[i];
                }
            }
        }
        if (biasDelta != null) {
            for (int i = 0; i < n; i++) {
                v[i] = v[i] + biasDelta[(int) (start + i)] * biasScale;
            }
        }
        DtypeEncoding.round(dtype, v, 0, n);
    }
}
