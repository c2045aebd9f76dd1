package io.quantflow.core.format.ct;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.EncodedWeight;
import io.quantflow.core.format.TensorSink;
import io.quantflow.core.format.WeightCodec;
import io.quantflow.core.format.WeightEncoding;
import io.quantflow.core.quality.AbsmaxOutliers;
import io.quantflow.core.quality.MeasuredTensor;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.TensorSpec;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A compressed-tensors {@code nvfp4-pack-quantized} weight as llm-compressor's {@code model_free_ptq} saves it:
 * {@code W.weight_packed} (U8 {@code [rows, cols/2]}), {@code W.weight_scale} (F8_E4M3 {@code [rows, cols/16]}) and
 * {@code W.weight_global_scale} (F32 {@code [1]}). The global scale needs the weight's absmax before any value is
 * encoded, and the weights vLLM fuses (q/k/v, gate/up, w1/w3, wq_a/wkv_a_with_mqa) share one, computed from all of
 * them: so an encoding keeps its weight's values (in their 16-bit form) until the last weight of its set is
 * finished, then the set is encoded on the pool. Memory: the largest fused set of a layer.
 *
 * <p>One codec serves one shard: the weights of a fused set must all be quantized and in the same shard
 * (an incomplete set is refused: its global scales could not agree).
 */
public final class Nvfp4Codec implements WeightCodec {
    /** Fused sets as llm-compressor's {@code DEFAULT_FUSED_MAPPINGS}: prefix group, member group, members. */
    private static final List<Fusion> FUSIONS = List.of(
            new Fusion(Pattern.compile("(.*(?:attn|attention))\\.(q_proj|k_proj|v_proj)\\.weight"), List.of("q_proj", "k_proj", "v_proj")),
            new Fusion(Pattern.compile("(.*(?:attn|attention))\\.(wq_a|wkv_a_with_mqa)\\.weight"), List.of("wq_a", "wkv_a_with_mqa")),
            new Fusion(Pattern.compile("(.*mlp)\\.(gate_proj|up_proj)\\.weight"), List.of("gate_proj", "up_proj")),
            new Fusion(Pattern.compile("(.*)\\.(w1|w3)\\.weight"), List.of("w1", "w3")));

    /** Values per background task when a set is encoded. */
    static final int TASK_ELEMENTS = 1 << 20;

    private record Fusion(Pattern pattern, List<String> members) {
    }

    /** Weights sharing a global scale; one weight alone when it is in no fused set. */
    private static final class FusedSet {
        final String key;
        final List<String> expected;
        final Map<String, Weight> weights = new LinkedHashMap<>();
        final Map<String, Encoding> finished = new LinkedHashMap<>();

        FusedSet(String key, List<String> expected) {
            this.key = key;
            this.expected = expected;
        }
    }

    private final Map<String, FusedSet> sets = new LinkedHashMap<>();

    @Override
    public synchronized Weight weight(String name, DType dtype, long[] shape) {
        if (shape.length != 2) {
            throw new IllegalArgumentException(name + " is not 2-D");
        }
        if (shape[1] % Nvfp4Groups.GROUP != 0) {
            throw QuantflowException.of(Reason.LAYOUT_UNSUPPORTED, name + " has " + shape[1] + " columns, not a multiple of "
                    + Nvfp4Groups.GROUP + " (NVFP4's group); keep it in 16 bit with --skip-modules");
        }
        if (shape[0] * shape[1] > Integer.MAX_VALUE - 8) {
            throw QuantflowException.of(Reason.TENSOR_TOO_LARGE, name + " has too many elements to quantize to NVFP4");
        }
        Weight w = new Weight(name, dtype, (int) shape[0], (int) shape[1]);
        FusedSet set = null;
        for (Fusion f : FUSIONS) {
            Matcher m = f.pattern.matcher(name);
            if (m.matches()) {
                String key = m.group(1) + "." + String.join("+", f.members);
                set = sets.computeIfAbsent(key, k -> new FusedSet(k, f.members.stream().map(s -> m.group(1) + "." + s + ".weight").toList()));
                break;
            }
        }
        if (set == null) {
            set = new FusedSet(name, List.of(name));
            sets.put(name, set);
        }
        set.weights.put(name, w);
        w.set = set;
        return w;
    }

    @Override
    public String engine() {
        return "scalar";
    }

    /** One NVFP4 weight. */
    public final class Weight implements EncodedWeight {
        private final String name;
        private final DType dtype;
        private final int rows;
        private final int cols;
        private FusedSet set;

        Weight(String name, DType dtype, int rows, int cols) {
            this.name = name;
            this.dtype = dtype;
            this.rows = rows;
            this.cols = cols;
        }

        @Override
        public String name() {
            return name;
        }

        String module() {
            return name.substring(0, name.length() - "weight".length());
        }

        String packed() {
            return module() + "weight_packed";
        }

        String scale() {
            return module() + "weight_scale";
        }

        String globalScale() {
            return module() + "weight_global_scale";
        }

        @Override
        public long elements() {
            return (long) rows * cols;
        }

        int groups() {
            return (int) (elements() / Nvfp4Groups.GROUP);
        }

        @Override
        public List<TensorSpec> specs(int lateLength) {
            return List.of(new TensorSpec(packed(), DType.U8, new long[] {rows, cols / 2}),
                    new TensorSpec(scale(), DType.F8_E4M3, new long[] {rows, cols / Nvfp4Groups.GROUP}),
                    new TensorSpec(globalScale(), DType.F32, new long[] {1}));
        }

        @Override
        public String lateTensor() {
            return null;
        }

        @Override
        public int maxLateLength() {
            return 0;
        }

        @Override
        public long chunkElements(long preferred) {
            long unit = Fp8Codec.CHUNK_ALIGN;
            return Math.max(unit, preferred / unit * unit);
        }

        @Override
        public WeightEncoding start() {
            synchronized (Nvfp4Codec.this) {
                if (!set.expected.containsAll(set.weights.keySet()) || !set.weights.keySet().containsAll(set.expected)) {
                    List<String> missing = new ArrayList<>(set.expected);
                    missing.removeAll(set.weights.keySet());
                    throw QuantflowException.of(Reason.LAYOUT_UNSUPPORTED, "NVFP4 shares one global scale across "
                            + String.join(", ", set.expected) + ", but " + String.join(", ", missing)
                            + " is not quantized in the same shard (kept in 16 bit, or in another shard); keep the whole set in 16 bit"
                            + " with --skip-modules, or reshard the model");
                }
            }
            return new Encoding(this);
        }
    }

    /** One weight's values, kept until its set is complete. */
    private final class Encoding implements WeightEncoding {
        private final Weight w;
        private final short[] half;
        private final float[] full;
        private final float[] groupAbsmax;
        private Consumer<MeasuredTensor> measured;

        Encoding(Weight w) {
            this.w = w;
            boolean sixteen = w.dtype == DType.BF16 || w.dtype == DType.F16;
            this.half = sixteen ? new short[(int) w.elements()] : null;
            this.full = sixteen ? null : new float[(int) w.elements()];
            this.groupAbsmax = new float[w.groups()];
        }

        @Override
        public ErrorSums encode(Chunk c, TensorSink out) {
            if (c.start() % Nvfp4Groups.GROUP != 0 || c.n() % Nvfp4Groups.GROUP != 0) {
                throw new IllegalArgumentException("chunk [" + c.start() + ", +" + c.n() + ") of " + w.name + " is not whole groups");
            }
            float[] x = c.values();
            int at = (int) c.start();
            store(x, c.n(), at);
            Nvfp4Groups.absmax(x, 0, c.n(), groupAbsmax, at / Nvfp4Groups.GROUP);
            // what --dynamic ranks by: the error with a global scale from this chunk alone (the set's is not known yet)
            ErrorSums sums = new ErrorSums();
            byte[] packed = new byte[c.n() / 2];
            byte[] scales = new byte[c.n() / Nvfp4Groups.GROUP];
            Nvfp4Groups.quantize(x, 0, c.n(), groupAbsmax, at / Nvfp4Groups.GROUP, Nvfp4Groups.globalScale(absmaxOf(groupAbsmax,
                    at / Nvfp4Groups.GROUP, c.n() / Nvfp4Groups.GROUP), w.dtype), w.dtype, packed, 0, scales, 0, sums);
            return sums;
        }

        private void store(float[] x, int n, int at) {
            if (full != null) {
                System.arraycopy(x, 0, full, at, n);
            } else if (w.dtype == DType.BF16) {
                for (int i = 0; i < n; i++) {
                    half[at + i] = (short) (Float.floatToRawIntBits(x[i]) >>> 16);
                }
            } else {
                for (int i = 0; i < n; i++) {
                    half[at + i] = Float.floatToFloat16(x[i]);
                }
            }
        }

        /** Values {@code [from, from + n)} as floats into {@code dst}. */
        void load(int from, int n, float[] dst) {
            if (full != null) {
                System.arraycopy(full, from, dst, 0, n);
            } else if (w.dtype == DType.BF16) {
                for (int i = 0; i < n; i++) {
                    dst[i] = Float.intBitsToFloat(half[from + i] << 16);
                }
            } else {
                for (int i = 0; i < n; i++) {
                    dst[i] = Float.float16ToFloat(half[from + i]);
                }
            }
        }

        float absmax() {
            return absmaxOf(groupAbsmax, 0, groupAbsmax.length);
        }

        @Override
        public byte[] finish(ErrorSums error, Consumer<MeasuredTensor> measured, TensorSink out, ExecutorService pool,
                             List<Future<?>> background) {
            this.measured = measured;
            List<Encoding> ready;
            synchronized (Nvfp4Codec.this) {
                w.set.finished.put(w.name, this);
                if (w.set.finished.size() < w.set.weights.size()) {
                    return null;
                }
                ready = new ArrayList<>(w.set.finished.values());
                w.set.finished.clear();
            }
            float absmax = 0f;
            for (Encoding e : ready) {
                absmax = Math.max(absmax, e.absmax());
            }
            float global = Nvfp4Groups.globalScale(absmax, w.dtype);
            for (Encoding e : ready) {
                e.submit(global, out, pool, background);
            }
            return null;
        }

        /** Encodes this weight with the set's global scale on the pool, then reports its error. */
        void submit(float global, TensorSink out, ExecutorService pool, List<Future<?>> background) {
            int n = (int) w.elements();
            int tasks = (n + TASK_ELEMENTS - 1) / TASK_ELEMENTS;
            ErrorSums[] partials = new ErrorSums[tasks];
            List<Future<?>> mine = new ArrayList<>();
            for (int k = 0; k < tasks; k++) {
                int t = k;
                mine.add(pool.submit(() -> {
                    int from = t * TASK_ELEMENTS;
                    int len = Math.min(TASK_ELEMENTS, n - from);
                    float[] x = new float[len];
                    load(from, len, x);
                    byte[] packed = new byte[len / 2];
                    byte[] scales = new byte[len / Nvfp4Groups.GROUP];
                    ErrorSums sums = new ErrorSums();
                    Nvfp4Groups.quantize(x, 0, len, groupAbsmax, from / Nvfp4Groups.GROUP, global, w.dtype, packed, 0, scales, 0, sums);
                    out.write(w.packed(), from / 2, ByteBuffer.wrap(packed));
                    out.write(w.scale(), from / Nvfp4Groups.GROUP, ByteBuffer.wrap(scales));
                    partials[t] = sums;
                    return null;
                }));
            }
            background.addAll(mine);
            background.add(pool.submit(() -> {
                ByteBuffer g = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, global);
                out.write(w.globalScale(), 0, g);
                return null;
            }));
            if (measured != null) {
                background.add(pool.submit(() -> {
                    for (Future<?> f : mine) {
                        f.get();
                    }
                    ErrorSums total = new ErrorSums();
                    for (ErrorSums p : partials) {
                        total.add(p);
                    }
                    measured.accept(new MeasuredTensor(total, AbsmaxOutliers.of(groupAbsmax, groupAbsmax.length)));
                    return null;
                }));
            }
        }
    }

    private static float absmaxOf(float[] a, int from, int n) {
        float m = 0f;
        for (int i = from; i < from + n; i++) {
            m = Math.max(m, a[i]);
        }
        return m;
    }
}
