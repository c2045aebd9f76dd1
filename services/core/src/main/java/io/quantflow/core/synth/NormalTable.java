package io.quantflow.core.synth;

import io.quantflow.core.quant.DtypeEncoding;
import io.quantflow.core.safetensors.DType;

/**
 * 65536 values of a normal distribution, N(0, std^2) at the quantiles {@code (i + 0.5) / 65536},
 * encoded in a dtype: 16 random bits pick one. Synthetic weights drawn this way cost a table read per
 * value instead of a transcendental function, so a checkpoint is written at the speed of the disk.
 */
final class NormalTable {
    static final int SIZE = 1 << 16;

    private NormalTable() {
    }

    /** The encoded values, {@code dtype.size()} bytes each, little-endian. */
    static byte[] encoded(DType dtype, double std) {
        float[] values = new float[SIZE];
        for (int i = 0; i < SIZE; i++) {
            values[i] = (float) (std * inverseNormal((i + 0.5) / SIZE));
        }
        byte[] out = new byte[SIZE * dtype.size()];
        DtypeEncoding.encode(dtype, values, 0, SIZE, out, 0);
        return out;
    }

    /**
     * The standard normal quantile function, by Acklam's rational approximation (relative error
     * below 1.2e-9, far finer than any 16-bit weight).
     */
    static double inverseNormal(double p) {
        if (p <= 0 || p >= 1) {
            throw new IllegalArgumentException("p must be in (0, 1): " + p);
        }
        final double[] a = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
        final double[] b = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                6.680131188771972e+01, -1.328068155288572e+01};
        final double[] c = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
        final double[] d = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                3.754408661907416e+00};
        final double low = 0.02425;
        if (p < low) {
            double q = Math.sqrt(-2 * Math.log(p));
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                    / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        if (p > 1 - low) {
            return -inverseNormal(1 - p);
        }
        double q = p - 0.5;
        double r = q * q;
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
}
