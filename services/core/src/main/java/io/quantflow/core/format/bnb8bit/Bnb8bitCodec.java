package io.quantflow.core.format.bnb8bit;

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

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/**
 * A bitsandbytes 8-bit weight as transformers' {@code save_pretrained} stores a {@code Linear8bitLt}:
 * {@code W.weight} (I8, the weight's shape, row-major), {@code W.SCB} (F32, one absmax a row) and
 * {@code W.weight_format} (U8, a 0-dim 0: "row-major", kept for backward compatibility). Chunks are whole rows.
 */
public final class Bnb8bitCodec implements WeightCodec {
    /** Chunks are also whole multiples of this many values (whole blocks of other outputs' codecs). */
    static final int CHUNK_ALIGN = 4096;

    private final boolean gpu;

    /** The codec conversions use: bitsandbytes' CUDA arithmetic ({@link Int8Rows}). */
    public Bnb8bitCodec() {
        this(true);
    }

    /** @param gpu the CUDA kernel's division (true) or the CPU reference's (false, for tests against it) */
    public Bnb8bitCodec(boolean gpu) {
        this.gpu = gpu;
    }

    @Override
    public Weight weight(String name, DType dtype, long[] shape) {
        if (shape.length != 2) {
            throw new IllegalArgumentException(name + " is not 2-D");
        }
        if (shape[0] * shape[1] > Integer.MAX_VALUE - 8) {
            throw QuantflowException.of(Reason.TENSOR_TOO_LARGE, name + " has too many elements to quantize to 8 bits");
        }
        return new Weight(name, dtype, (int) shape[0], (int) shape[1], gpu);
    }

    @Override
    public String engine() {
        return "scalar";
    }

    /** One 8-bit weight. */
    public static final class Weight implements EncodedWeight {
        private final String name;
        private final DType dtype;
        private final int rows;
        private final int cols;
        private final boolean gpu;

        Weight(String name, DType dtype, int rows, int cols, boolean gpu) {
            this.name = name;
            this.dtype = dtype;
            this.rows = rows;
            this.cols = cols;
            this.gpu = gpu;
        }

        @Override
        public String name() {
            return name;
        }

        String module() {
            return name.substring(0, name.length() - "weight".length());
        }

        @Override
        public long elements() {
            return (long) rows * cols;
        }

        @Override
        public List<TensorSpec> specs(int lateLength) {
            return List.of(new TensorSpec(name, DType.I8, new long[] {rows, cols}),
                    new TensorSpec(module() + "SCB", DType.F32, new long[] {rows}),
                    new TensorSpec(module() + "weight_format", DType.U8, new long[] {}));
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
            long unit = cols / gcd(cols, CHUNK_ALIGN) * (long) CHUNK_ALIGN;
            return Math.max(unit, preferred / unit * unit);
        }

        @Override
        public WeightEncoding start() {
            return new Encoding(this);
        }
    }

    private static long gcd(long a, long b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    /** One weight being encoded: each row's absmax. */
    private static final class Encoding implements WeightEncoding {
        private final Weight w;
        private final float[] scb;

        Encoding(Weight w) {
            this.w = w;
            this.scb = new float[w.rows];
        }

        @Override
        public ErrorSums encode(Chunk c, TensorSink out) throws java.io.IOException {
            if (c.start() % w.cols != 0 || c.n() % w.cols != 0) {
                throw new IllegalArgumentException("chunk [" + c.start() + ", +" + c.n() + ") of " + w.name + " is not whole rows");
            }
            int rows = c.n() / w.cols;
            int first = (int) (c.start() / w.cols);
            byte[] q = c.scratch().apply(c.n());
            ErrorSums sums = new ErrorSums();
            Int8Rows.quantize(c.values(), rows, w.cols, w.dtype, w.gpu, q, scb, first, sums);
            out.write(w.name, c.start(), ByteBuffer.wrap(q, 0, c.n()));
            ByteBuffer s = ByteBuffer.allocate(rows * 4).order(ByteOrder.LITTLE_ENDIAN);
            s.asFloatBuffer().put(scb, first, rows);
            out.write(w.module() + "SCB", 4L * first, s);
            return sums;
        }

        @Override
        public byte[] finish(ErrorSums error, Consumer<MeasuredTensor> measured, TensorSink out, ExecutorService pool,
                             List<Future<?>> background) throws java.io.IOException {
            out.write(w.module() + "weight_format", 0, ByteBuffer.wrap(new byte[] {0}));
            if (error != null) {
                measured.accept(new MeasuredTensor(error, AbsmaxOutliers.of(scb, scb.length)));
            }
            return null;
        }
    }
}
