package io.quantflow.core.gpu;

import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.quant.ScalarBlockwiseQuantizer;
import io.quantflow.core.quant.TensorQuantizer;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.SafetensorsLayout;
import io.quantflow.core.safetensors.SafetensorsOutput;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.safetensors.TensorSpec;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Source files of random tensors with the values that catch mistakes (NaN, infinities, signed
 * zeros, subnormals, all-zero and all-NaN blocks, exact code boundaries), and the reference
 * result of quantizing them.
 */
final class TestTensors {
    private TestTensors() {
    }

    /** Writes {@code specs} with random values (a sprinkling of special ones) to a safetensors file. */
    static void write(Path file, List<TensorSpec> specs, long seed) throws IOException {
        Random rnd = new Random(seed);
        SafetensorsLayout layout = SafetensorsLayout.of(Map.of("format", "pt"), specs);
        try (SafetensorsOutput o = SafetensorsOutput.create(file, layout.paddedHeaderLength())) {
            for (TensorInfo t : layout.entries()) {
                int n = Math.toIntExact(t.elements());
                float[] v = values(n, rnd);
                byte[] b = new byte[n * t.dtype().size()];
                HalfFloats.encode(t.dtype(), v, 0, n, b, 0);
                o.write(t.begin(), ByteBuffer.wrap(b));
            }
            o.finish(layout);
        }
    }

    /** Normal values with std 0.02, and here and there a run of something awkward. */
    static float[] values(int n, Random rnd) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (rnd.nextGaussian() * 0.02);
        }
        float[] specials = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0.0f, 0.0f,
                Float.MIN_VALUE, -Float.MIN_NORMAL / 3, 1e-30f, 65504f, -3.0e38f};
        for (int k = 0; k < n / 5000 + 1; k++) {
            int at = rnd.nextInt(n);
            int len = Math.min(n - at, 1 + rnd.nextInt(80));
            int kind = rnd.nextInt(5);
            for (int i = at; i < at + len; i++) {
                v[i] = switch (kind) {
                    case 0 -> specials[rnd.nextInt(specials.length)];
                    case 1 -> 0.0f;
                    case 2 -> Float.NaN;
                    // fp4 boundaries are simple fractions of the absmax: hit them exactly
                    case 3 -> (rnd.nextInt(25) - 12) / 12.0f;
                    default -> (float) (rnd.nextGaussian() * Math.scalb(1.0, rnd.nextInt(60) - 40));
                };
            }
        }
        return v;
    }

    /** Decodes a whole tensor of {@code file}. */
    static float[] decode(SafetensorsFile file, TensorInfo t) throws IOException {
        int n = Math.toIntExact(t.elements());
        ByteBuffer b = ByteBuffer.allocate(n * t.dtype().size());
        file.read(t, 0, b);
        float[] x = new float[n];
        HalfFloats.decode(t.dtype(), b.array(), 0, n, x, 0);
        return x;
    }

    /** Packed codes and absmax of one tensor. */
    record Quantized(byte[] packed, float[] absmax) {
    }

    static Quantized reference(SafetensorsFile file, TensorInfo t, QuantType type, int blocksize) throws IOException {
        float[] x = decode(file, t);
        int n = x.length;
        byte[] packed = new byte[(n + 1) / 2];
        float[] absmax = new float[(n + blocksize - 1) / blocksize];
        new ScalarBlockwiseQuantizer(type).quantize(x, 0, n, blocksize, packed, 0, absmax, 0);
        return new Quantized(packed, absmax);
    }

    /**
     * Quantizes {@code tensors} of {@code source} through one pass of {@code quantizer} into a scratch
     * output, the packed codes of each tensor after those of the one before; returns them per tensor.
     */
    static List<Quantized> throughPass(TensorQuantizer quantizer, SafetensorsFile source, List<TensorInfo> tensors,
                                       QuantOptions options, Path scratch) throws IOException {
        List<Quantized> result = new ArrayList<>();
        List<float[]> absmax = new ArrayList<>();
        List<Long> offsets = new ArrayList<>();
        long at = 0;
        Files.deleteIfExists(scratch);
        try (SafetensorsOutput out = SafetensorsOutput.create(scratch, 8);
             TensorQuantizer.Pass pass = quantizer.open(source, tensors, options, out, n -> { })) {
            for (TensorInfo t : tensors) {
                offsets.add(at);
                absmax.add(pass.quantize(t, at));
                at += (t.elements() + 1) / 2 + 3; // a gap, so that a write past the end shows
            }
        }
        byte[] all = Files.readAllBytes(scratch);
        for (int i = 0; i < tensors.size(); i++) {
            int start = (int) (16 + offsets.get(i));
            int len = (int) ((tensors.get(i).elements() + 1) / 2);
            byte[] packed = Arrays.copyOfRange(all, start, start + len);
            for (int g = start + len; g < Math.min(all.length, start + len + 3); g++) {
                if (all[g] != 0) {
                    throw new AssertionError(tensors.get(i) + ": a byte was written past its packed codes");
                }
            }
            result.add(new Quantized(packed, absmax.get(i)));
        }
        return result;
    }

    static byte[] littleEndian(float[] f) {
        ByteBuffer b = ByteBuffer.allocate(4 * f.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(f);
        return b.array();
    }
}
