package io.quantflow.core.format.ct;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.EncodedWeight;
import io.quantflow.core.format.TensorSink;
import io.quantflow.core.format.WeightCodec;
import io.quantflow.core.format.WeightEncoding;
import io.quantflow.core.quality.AbsmaxOutliers;
import io.quantflow.core.quality.MeasuredTensor;
import io.quantflow.core.quant.DtypeEncoding;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.quant.VectorizationProvider;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.TensorSpec;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/**
 * A compressed-tensors {@code float-quantized} weight as llm-compressor saves it: {@code W.weight} (F8_E4M3, the
 * weight's shape) and {@code W.weight_scale} (the weight's dtype, one scale per tile: {@code [rows, 1]} per channel,
 * {@code [ceil(rows/128), ceil(cols/128)]} per 128 x 128 block). Chunks are whole bands of tile rows.
 */
public final class Fp8Codec implements WeightCodec {
    /** Chunks are also whole multiples of this many values, so that they stay whole blocks of other outputs' codecs. */
    static final int CHUNK_ALIGN = 4096;

    private final int tileRows;
    private final int tileCols;
    private final boolean vector;

    /**
     * @param tileRows rows of a tile (1 per channel)
     * @param tileCols columns of a tile; 0 for the whole row
     */
    public Fp8Codec(int tileRows, int tileCols) {
        this(tileRows, tileCols, VectorizationProvider.get().vector());
    }

    /** A codec on the Vector API path or the scalar reference (tests and benchmarks pick; conversions take the provider's choice). */
    public Fp8Codec(int tileRows, int tileCols, boolean vector) {
        this.tileRows = tileRows;
        this.tileCols = tileCols;
        this.vector = vector;
    }

    /** FP8_DYNAMIC's weights: one scale per output channel. */
    public static Fp8Codec channel() {
        return new Fp8Codec(1, 0);
    }

    /** FP8_BLOCK's weights: one scale per 128 x 128 block. */
    public static Fp8Codec block() {
        return new Fp8Codec(128, 128);
    }

    @Override
    public Weight weight(String name, DType dtype, long[] shape) {
        if (shape.length != 2) {
            throw new IllegalArgumentException(name + " is not 2-D");
        }
        if (shape[0] * shape[1] > Integer.MAX_VALUE - 8 || (long) tileRows * shape[1] > Integer.MAX_VALUE / 4) {
            throw QuantflowException.of(Reason.TENSOR_TOO_LARGE, name + " has too many elements to quantize to FP8");
        }
        return new Weight(name, dtype, (int) shape[0], (int) shape[1]);
    }

    @Override
    public String engine() {
        return vector ? VectorFp8Tiles.name() : "scalar";
    }

    /** One FP8 weight: its tensors and how it is chunked. */
    public final class Weight implements EncodedWeight {
        private final String name;
        private final DType dtype;
        private final int rows;
        private final int cols;
        private final int tileCols;

        Weight(String name, DType dtype, int rows, int cols) {
            this.name = name;
            this.dtype = dtype;
            this.rows = rows;
            this.cols = cols;
            this.tileCols = Fp8Codec.this.tileCols == 0 ? cols : Fp8Codec.this.tileCols;
        }

        @Override
        public String name() {
            return name;
        }

        String scaleName() {
            return name + "_scale";
        }

        int tileRowCount() {
            return (rows + tileRows - 1) / tileRows;
        }

        int tilesPerRow() {
            return (cols + tileCols - 1) / tileCols;
        }

        @Override
        public long elements() {
            return (long) rows * cols;
        }

        @Override
        public List<TensorSpec> specs(int lateLength) {
            return List.of(new TensorSpec(name, DType.F8_E4M3, new long[] {rows, cols}),
                    new TensorSpec(scaleName(), dtype, new long[] {tileRowCount(), tilesPerRow()}));
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
            long band = (long) tileRows * cols;
            long unit = band / gcd(band, CHUNK_ALIGN) * CHUNK_ALIGN;
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

    /** One weight being encoded: each tile's absmax, for the outlier statistics. */
    private final class Encoding implements WeightEncoding {
        private final Weight w;
        private final float[] absmax;

        Encoding(Weight w) {
            this.w = w;
            this.absmax = new float[w.tileRowCount() * w.tilesPerRow()];
        }

        @Override
        public ErrorSums encode(Chunk c, TensorSink out) throws IOException {
            long band = (long) tileRows * w.cols;
            if (c.start() % band != 0 || (c.n() % band != 0 && c.start() + c.n() != w.elements())) {
                throw new IllegalArgumentException("chunk [" + c.start() + ", +" + c.n() + ") of " + w.name
                        + " is not whole bands of " + tileRows + " rows");
            }
            int rows = c.n() / w.cols;
            int firstTile = (int) (c.start() / band) * w.tilesPerRow();
            int tiles = ((rows + tileRows - 1) / tileRows) * w.tilesPerRow();
            byte[] q = c.scratch().apply(c.n());
            float[] am = new float[tiles];
            float[] scales = new float[tiles];
            ErrorSums sums = new ErrorSums();
            if (vector) {
                VectorFp8Tiles.quantize(c.values(), rows, w.cols, tileRows, w.tileCols, w.dtype, q, am, scales, sums);
            } else {
                Fp8Tiles.quantize(c.values(), rows, w.cols, tileRows, w.tileCols, w.dtype, q, am, scales, sums);
            }
            System.arraycopy(am, 0, absmax, firstTile, tiles);
            out.write(w.name, c.start(), ByteBuffer.wrap(q, 0, c.n()));
            byte[] s = new byte[tiles * w.dtype.size()];
            DtypeEncoding.encode(w.dtype, scales, 0, tiles, s, 0);
            out.write(w.scaleName(), (long) firstTile * w.dtype.size(), ByteBuffer.wrap(s));
            return sums;
        }

        @Override
        public byte[] finish(ErrorSums error, Consumer<MeasuredTensor> measured, TensorSink out, ExecutorService pool,
                             List<Future<?>> background) {
            if (error != null) {
                measured.accept(new MeasuredTensor(error, AbsmaxOutliers.of(absmax, absmax.length)));
            }
            return null;
        }
    }
}
