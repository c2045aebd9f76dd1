package io.quantflow.core.format.ct;

import io.quantflow.core.format.EncodedWeight;
import io.quantflow.core.format.TensorSink;
import io.quantflow.core.format.WeightCodec;
import io.quantflow.core.format.WeightEncoding;
import io.quantflow.core.concurrent.Tasks;
import io.quantflow.core.quality.MeasuredTensor;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.TensorSpec;

import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/** The reference files of scripts/reference/ct_reference.py, and encoding weights through a codec into memory. */
final class CtReference {
    private CtReference() {
    }

    static Path file(String name) {
        try {
            return Path.of(CtReference.class.getResource("/format/ct/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** What a codec wrote for a set of weights: tensor name to bytes, and what each weight's encoding measured. */
    record Encoded(Map<String, byte[]> tensors, Map<String, MeasuredTensor> measured, Map<String, ErrorSums> chunkSums) {
    }

    /**
     * Encodes weights (name to values in {@code dtype}, shapes given) through one codec, in name order, in chunks of
     * {@code chunkElements(preferred)}, the chunks in reverse order (any order must do), finishing each weight.
     */
    static Encoded encode(WeightCodec codec, DType dtype, Map<String, float[]> values, Map<String, long[]> shapes, long preferred,
                          ExecutorService pool) throws Exception {
        Map<String, EncodedWeight> weights = new LinkedHashMap<>();
        values.keySet().stream().sorted().forEach(n -> weights.put(n, codec.weight(n, dtype, shapes.get(n))));
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (EncodedWeight w : weights.values()) {
            for (TensorSpec s : w.specs(0)) {
                out.put(s.name(), new byte[(int) s.byteSize()]);
            }
        }
        TensorSink sink = (tensor, at, bytes) -> {
            byte[] dst = out.get(tensor);
            synchronized (dst) {
                bytes.get(dst, (int) at, bytes.remaining());
            }
        };
        Map<String, MeasuredTensor> measured = new java.util.concurrent.ConcurrentHashMap<>();
        Map<String, ErrorSums> sums = new LinkedHashMap<>();
        List<Future<?>> background = new ArrayList<>();
        for (EncodedWeight w : weights.values()) {
            WeightEncoding e = w.start();
            float[] x = values.get(w.name());
            long chunk = w.chunkElements(preferred);
            List<long[]> chunks = new ArrayList<>();
            for (long s = 0; s < x.length; s += chunk) {
                chunks.add(new long[] {s, Math.min(chunk, x.length - s)});
            }
            ErrorSums[] partial = new ErrorSums[chunks.size()];
            for (int c = chunks.size() - 1; c >= 0; c--) {
                int s = (int) chunks.get(c)[0];
                int n = (int) chunks.get(c)[1];
                float[] part = java.util.Arrays.copyOfRange(x, s, s + n);
                partial[c] = e.encode(new WeightEncoding.Chunk(s, n, part, null, len -> new byte[len]), sink);
            }
            ErrorSums total = new ErrorSums();
            for (ErrorSums p : partial) {
                total.add(p);
            }
            sums.put(w.name(), total);
            e.finish(total, m -> measured.put(w.name(), m), sink, pool, background);
        }
        Tasks.await(background);
        return new Encoded(out, measured, sums);
    }

    /** Values of a tensor's bytes in a 16/32-bit float dtype. */
    static float[] decode(DType dtype, byte[] b) {
        float[] f = new float[b.length / dtype.size()];
        HalfFloats.decode(dtype, b, 0, f.length, f, 0);
        return f;
    }

    static float[] floats(byte[] le) {
        float[] f = new float[le.length / 4];
        ByteBuffer.wrap(le).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return f;
    }
}
