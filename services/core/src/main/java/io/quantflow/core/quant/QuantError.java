package io.quantflow.core.quant;

import io.quantflow.core.safetensors.DType;

import java.util.concurrent.atomic.DoubleAdder;

/**
 * The error 4-bit quantization adds, accumulated from any thread: the relative RMS error
 * {@code sqrt(sum (deq - x)^2 / sum x^2)}, where {@code deq} is what bitsandbytes dequantizes a code
 * back to (code value x block absmax in float32, rounded to the weight's dtype). The absmax is the
 * exact one: the double quantization of absmax values adds about a hundredth of this on top.
 */
public final class QuantError {
    private final DoubleAdder squaredError = new DoubleAdder();
    private final DoubleAdder squaredValue = new DoubleAdder();

    /**
     * Adds {@code x[0..n)}, quantized into {@code packed} with absmax values from {@code absmax[absOff]}.
     */
    public void add(float[] x, int n, byte[] packed, float[] absmax, int absOff, int blocksize, float[] codebook, DType dtype) {
        double e = 0;
        double s = 0;
        for (int i = 0; i < n; i++) {
            int code = (packed[i >> 1] >> ((i & 1) == 0 ? 4 : 0)) & 0xF;
            float deq = DtypeEncoding.round(dtype, codebook[code] * absmax[absOff + i / blocksize]);
            double d = (double) deq - x[i];
            e += d * d;
            s += (double) x[i] * x[i];
        }
        squaredError.add(e);
        squaredValue.add(s);
    }

    /** The relative RMS error so far (0 when nothing was added). */
    public double relativeRms() {
        double s = squaredValue.sum();
        return s == 0 ? 0 : Math.sqrt(squaredError.sum() / s);
    }
}
