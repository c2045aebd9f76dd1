package io.quantflow.core.format.ct;

import io.quantflow.core.quant.DtypeEncoding;
import io.quantflow.core.safetensors.DType;

import java.util.Map;

/**
 * Dequantizes compressed-tensors weights from their bytes as compressed-tensors' {@code decompress} does (the
 * test's own decoder, independent of the codecs' arithmetic): FP8 {@code dtype(fp8 * scale)}, the scale of the
 * value's tile; NVFP4 {@code dtype(fp4 * (scale / global_scale))}.
 */
final class CtDecoder {
    private CtDecoder() {
    }

    static float[] dequantize(CtScheme scheme, DType dtype, Map<String, byte[]> t, String weight, long[] shape) {
        int rows = (int) shape[0];
        int cols = (int) shape[1];
        float[] out = new float[rows * cols];
        String module = weight.substring(0, weight.length() - "weight".length());
        switch (scheme) {
            case FP8_DYNAMIC, FP8_BLOCK -> {
                byte[] q = t.get(weight);
                float[] scale = CtReference.decode(dtype, t.get(module + "weight_scale"));
                int tr = scheme == CtScheme.FP8_DYNAMIC ? 1 : 128;
                int tc = scheme == CtScheme.FP8_DYNAMIC ? cols : 128;
                int perRow = (cols + tc - 1) / tc;
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c++) {
                        float s = scale[(r / tr) * perRow + c / tc];
                        out[r * cols + c] = DtypeEncoding.round(dtype, Fp8E4m3.decode(q[r * cols + c]) * s);
                    }
                }
            }
            case NVFP4A16 -> {
                byte[] packed = t.get(module + "weight_packed");
                byte[] scale = t.get(module + "weight_scale");
                float global = CtReference.floats(t.get(module + "weight_global_scale"))[0];
                for (int i = 0; i < rows * cols; i++) {
                    int code = (packed[i / 2] >> ((i & 1) == 0 ? 0 : 4)) & 0xf;
                    float s = Fp8E4m3.decode(scale[i / 16]) / global;
                    out[i] = DtypeEncoding.round(dtype, Fp4E2m1.value(code) * s);
                }
            }
        }
        return out;
    }

    static double relativeRms(CtScheme scheme, DType dtype, Map<String, byte[]> t, String weight, long[] shape, float[] x) {
        float[] d = dequantize(scheme, dtype, t, weight, shape);
        double e = 0;
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            double diff = (double) d[i] - x[i];
            e += diff * diff;
            s += (double) x[i] * x[i];
        }
        return Math.sqrt(e / s);
    }
}
