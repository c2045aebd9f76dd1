package io.quantflow.core.format.bnb4bit;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.EncodedWeight;
import io.quantflow.core.format.TensorSink;
import io.quantflow.core.format.WeightCodec;
import io.quantflow.core.format.WeightEncoding;
import io.quantflow.core.quality.AbsmaxOutliers;
import io.quantflow.core.quality.MeasuredTensor;
import io.quantflow.core.quant.BlockwiseQuantizer;
import io.quantflow.core.quant.DoubleQuantizer;
import io.quantflow.core.quant.DynamicMap;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantState;
import io.quantflow.core.quant.Quantizers;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.Shapes;
import io.quantflow.core.safetensors.TensorSpec;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/**
 * The bitsandbytes 4-bit weight, as transformers' {@code save_pretrained} stores a {@code Params4bit}: packed
 * codes, absmax (8-bit with double quantization, then nested absmax and map), the code book and the quant
 * state JSON. Used by {@code bnb-4bit} and {@code merged-4bit}.
 */
public final class Bnb4bitCodec implements WeightCodec {
    /** Absmax values per double-quantization task (a multiple of the nested blocksize). */
    static final int NESTED_TASK_BLOCKS = 1 << 16;

    private final QuantOptions options;
    private final BlockwiseQuantizer quantizer;

    public Bnb4bitCodec(QuantOptions options) {
        this(options, Quantizers.best(options.quantType()));
    }

    /** A codec that quantizes with {@code quantizer} (benchmarks and tests pick one; conversions take the best). */
    public Bnb4bitCodec(QuantOptions options, BlockwiseQuantizer quantizer) {
        if (quantizer.type() != options.quantType()) {
            throw new IllegalArgumentException("a " + quantizer.type().id() + " quantizer for " + options.quantType().id());
        }
        this.options = options;
        this.quantizer = quantizer;
    }

    public QuantOptions options() {
        return options;
    }

    @Override
    public Tensors weight(String name, DType dtype, long[] shape) {
        return new Tensors(name, dtype, shape, options);
    }

    @Override
    public String engine() {
        return quantizer.name();
    }

    @Override
    public boolean accelerable() {
        return true;
    }

    /**
     * The tensors bitsandbytes writes for one 4-bit weight {@code W}: {@code W} (packed codes, U8 [n/2, 1]),
     * {@code W.absmax}, {@code W.quant_map}, with double quantization {@code W.nested_absmax} and
     * {@code W.nested_quant_map}, and {@code W.quant_state.bitsandbytes__<type>} (the quant-state JSON as U8).
     *
     * @param dtype the 16-bit dtype of the weight's values, recorded in the quant state
     */
    public final class Tensors implements EncodedWeight {
        private final String weight;
        private final DType dtype;
        private final long[] shape;
        private final QuantOptions options;

        Tensors(String weight, DType dtype, long[] shape, QuantOptions options) {
            this.weight = weight;
            this.dtype = dtype;
            this.shape = shape.clone();
            this.options = options;
        }

        @Override
        public String name() {
            return weight;
        }

        String absmax() {
            return weight + ".absmax";
        }

        String quantMap() {
            return weight + ".quant_map";
        }

        String nestedAbsmax() {
            return weight + ".nested_absmax";
        }

        String nestedQuantMap() {
            return weight + ".nested_quant_map";
        }

        String quantState() {
            return weight + "." + QuantState.tensorSuffix(options.quantType());
        }

        @Override
        public long elements() {
            return Shapes.elements(shape);
        }

        long blocks() {
            return (elements() + options.blocksize() - 1) / options.blocksize();
        }

        long nestedBlocks() {
            return (blocks() + DoubleQuantizer.NESTED_BLOCKSIZE - 1) / DoubleQuantizer.NESTED_BLOCKSIZE;
        }

        QuantState state(float nestedOffset) {
            return new QuantState(options.quantType(), options.blocksize(), dtype, shape, options.doubleQuant(), nestedOffset);
        }

        @Override
        public List<TensorSpec> specs(int stateLength) {
            List<TensorSpec> out = new ArrayList<>(6);
            out.add(new TensorSpec(weight, DType.U8, new long[] {(elements() + 1) / 2, 1}));
            out.add(new TensorSpec(absmax(), options.doubleQuant() ? DType.U8 : DType.F32, new long[] {blocks()}));
            out.add(new TensorSpec(quantMap(), DType.F32, new long[] {16}));
            if (options.doubleQuant()) {
                out.add(new TensorSpec(nestedAbsmax(), DType.F32, new long[] {nestedBlocks()}));
                out.add(new TensorSpec(nestedQuantMap(), DType.F32, new long[] {256}));
            }
            out.add(new TensorSpec(quantState(), DType.U8, new long[] {stateLength}));
            return out;
        }

        @Override
        public String lateTensor() {
            return quantState();
        }

        @Override
        public int maxLateLength() {
            return state(0f).maxJsonLength();
        }

        @Override
        public long chunkElements(long preferred) {
            int bs = options.blocksize();
            return Math.max(bs, (preferred / bs) * bs);
        }

        @Override
        public WeightEncoding start() {
            if (blocks() > Integer.MAX_VALUE - 8) {
                throw QuantflowException.of(Reason.TENSOR_TOO_LARGE, weight + " has too many elements to quantize");
            }
            return new Encoding(this);
        }
    }

    /** One weight being quantized: its absmax values fill as the chunks are done. */
    private final class Encoding implements WeightEncoding {
        private final Tensors t;
        private float[] absmax;

        Encoding(Tensors t) {
            this.t = t;
            this.absmax = new float[(int) t.blocks()];
        }

        @Override
        public boolean encodesBf16() {
            return t.dtype == DType.BF16;
        }

        @Override
        public ErrorSums encode(Chunk c, TensorSink out) throws IOException {
            int bs = options.blocksize();
            if (c.start() % bs != 0) {
                throw new IllegalArgumentException("chunk at " + c.start() + " does not start a block of " + bs);
            }
            byte[] packed = c.scratch().apply((c.n() + 1) / 2);
            ErrorSums sums = new ErrorSums();
            int block = (int) (c.start() / bs);
            if (c.values() == null) {
                quantizer.quantizeBf16(c.raw(), 0, c.n(), bs, packed, 0, absmax, block, DType.BF16, sums);
            } else {
                quantizer.quantize(c.values(), 0, c.n(), bs, packed, 0, absmax, block, t.dtype, sums);
            }
            out.write(t.weight, c.start() / 2, ByteBuffer.wrap(packed, 0, (c.n() + 1) / 2));
            return sums;
        }

        @Override
        public void acceleratedScales(float[] scales) {
            if (scales.length != absmax.length) {
                throw new IllegalArgumentException(scales.length + " scales for " + absmax.length + " blocks of " + t.weight);
            }
            absmax = scales;
        }

        /**
         * Fixes the quant state (it needs only the offset, a mean, so the next tensor's place is known at once)
         * and queues the statistics and the double quantization on the pool.
         */
        @Override
        public byte[] finish(ErrorSums error, Consumer<MeasuredTensor> measured, TensorSink out, ExecutorService pool,
                             List<Future<?>> background) throws IOException {
            float[] am = absmax;
            if (error != null) {
                background.add(pool.submit(() -> {
                    measured.accept(new MeasuredTensor(error, AbsmaxOutliers.of(am, am.length)));
                    return null;
                }));
            }
            float offset = options.doubleQuant() ? DoubleQuantizer.offset(am, am.length) : 0f;
            out.write(t.quantMap(), 0, littleEndian(options.quantType().codebook()));
            if (!options.doubleQuant()) {
                out.write(t.absmax(), 0, littleEndian(am));
            } else {
                out.write(t.nestedQuantMap(), 0, littleEndian(DynamicMap.signed()));
                submitDoubleQuant(am, offset, out, pool, background);
            }
            return t.state(offset).toJson();
        }

        private void submitDoubleQuant(float[] am, float offset, TensorSink out, ExecutorService pool, List<Future<?>> background) {
            int count = am.length;
            int nested = DoubleQuantizer.nestedBlocks(count);
            int perTask = NESTED_TASK_BLOCKS / DoubleQuantizer.NESTED_BLOCKSIZE;
            for (int from = 0; from < nested; from += perTask) {
                int f = from;
                int to = Math.min(nested, from + perTask);
                background.add(pool.submit(() -> {
                    int first = f * DoubleQuantizer.NESTED_BLOCKSIZE;
                    int last = Math.min(count, to * DoubleQuantizer.NESTED_BLOCKSIZE);
                    byte[] codes = new byte[last - first];
                    float[] scales = new float[to - f];
                    DoubleQuantizer.quantizeNested(am, count, offset, f, to, codes, scales);
                    out.write(t.absmax(), first, ByteBuffer.wrap(codes));
                    out.write(t.nestedAbsmax(), 4L * f, littleEndian(scales));
                    return null;
                }));
            }
        }
    }

    /** Float32 values as little-endian bytes. */
    public static ByteBuffer littleEndian(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return b;
    }
}
