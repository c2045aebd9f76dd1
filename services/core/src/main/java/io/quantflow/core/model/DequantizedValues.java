package io.quantflow.core.model;

import io.quantflow.core.quant.Bnb4bitWeight;
import io.quantflow.core.quant.Dequantizer;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;

import java.io.IOException;
import java.util.concurrent.ExecutorService;

/**
 * A weight of a bitsandbytes 4-bit base, dequantized as bitsandbytes does it (code value x block
 * absmax in float32, rounded to the weight's dtype). The absmax values are read when the tensor
 * comes up and dropped when it is done.
 */
final class DequantizedValues implements TensorValues {
    private final SafetensorsFile file;
    private final Bnb4bitWeight weight;
    private volatile float[] codeValues;
    private volatile float[] absmax;

    DequantizedValues(SafetensorsFile file, Bnb4bitWeight weight) {
        this.file = file;
        this.weight = weight;
    }

    @Override
    public String name() {
        return weight.name();
    }

    @Override
    public DType dtype() {
        return weight.dtype();
    }

    @Override
    public long[] shape() {
        return weight.shape();
    }

    @Override
    public Stored stored() {
        return null;
    }

    @Override
    public double sourceBytesPerValue() {
        return 0.5;
    }

    @Override
    public synchronized void prepare(ExecutorService pool) throws IOException {
        if (absmax == null) {
            codeValues = Dequantizer.codeValues(file, weight);
            absmax = Dequantizer.absmax(file, weight);
        }
    }

    @Override
    public void release() {
        absmax = null;
        codeValues = null;
    }

    @Override
    public void read(long start, int n, Scratch scratch) throws IOException {
        float[] am = absmax;
        float[] cv = codeValues;
        if (am == null) {
            prepare(null);
            am = absmax;
            cv = codeValues;
        }
        float[] dst = scratch.values(n);
        if ((start & 1) == 0) {
            Dequantizer.dequantize(file, weight, cv, am, start, n, dst, 0);
        } else {
            // two values share a byte: start one value early
            float[] tmp = scratch.spare(n + 1);
            Dequantizer.dequantize(file, weight, cv, am, start - 1, n + 1, tmp, 0);
            System.arraycopy(tmp, 1, dst, 0, n);
        }
    }
}
