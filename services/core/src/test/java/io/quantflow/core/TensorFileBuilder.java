package io.quantflow.core;

import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsLayout;
import io.quantflow.core.safetensors.SafetensorsOutput;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.safetensors.TensorSpec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntToDoubleFunction;

/**
 * Writes small safetensors files for tests through the product's own layout and writer
 * ({@link SafetensorsLayout}, {@link SafetensorsOutput}): tensors are given as raw little-endian
 * bytes or as floats encoded to BF16/F16/F32.
 */
public final class TensorFileBuilder {
    private final Map<String, TensorSpec> specs = new LinkedHashMap<>();
    private final Map<String, byte[]> data = new LinkedHashMap<>();

    public TensorFileBuilder bytes(String name, DType dtype, long[] shape, byte[] bytes) {
        TensorSpec spec = new TensorSpec(name, dtype, shape);
        if (spec.byteSize() != bytes.length) {
            throw new IllegalArgumentException(name + ": " + bytes.length + " bytes for " + spec);
        }
        specs.put(name, spec);
        data.put(name, bytes.clone());
        return this;
    }

    /** Floats encoded to {@code dtype} (BF16 and F16 rounded to nearest even, F32 as is). */
    public TensorFileBuilder floats(String name, DType dtype, long[] shape, float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * dtype.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            switch (dtype) {
                case F32 -> b.putFloat(v);
                case F16 -> b.putShort(Float.floatToFloat16(v));
                case BF16 -> {
                    int bits = Float.floatToRawIntBits(v);
                    bits += 0x7FFF + ((bits >>> 16) & 1);
                    b.putShort((short) (bits >>> 16));
                }
                default -> throw new IllegalArgumentException(dtype.name());
            }
        }
        return bytes(name, dtype, shape, b.array());
    }

    /** A tensor of the given shape filled with {@code f(i)} for element i. */
    public TensorFileBuilder filled(String name, DType dtype, long[] shape, IntToDoubleFunction f) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) f.applyAsDouble(i);
        }
        return floats(name, dtype, shape, v);
    }

    public TensorFileBuilder text(String name, String json) {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        return bytes(name, DType.U8, new long[] {b.length}, b);
    }

    public TensorFileBuilder remove(String name) {
        specs.remove(name);
        data.remove(name);
        return this;
    }

    public Path write(Path file) {
        SafetensorsLayout layout = SafetensorsLayout.of(Map.of("format", "pt"), new ArrayList<>(specs.values()));
        try (SafetensorsOutput out = SafetensorsOutput.create(file, layout.paddedHeaderLength())) {
            for (TensorInfo t : layout.entries()) {
                out.write(t.begin(), ByteBuffer.wrap(data.get(t.name())));
            }
            out.finish(layout);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    public static long[] shape(long... dims) {
        return dims;
    }
}
