package io.quantflow.bench;

import io.quantflow.core.quant.BlockwiseQuantizer;
import io.quantflow.core.quality.AbsmaxOutliers;
import io.quantflow.core.quant.DoubleQuantizer;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.safetensors.DType;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The CPU quantize path of one tensor as the converter runs it: the bf16 bytes are cut into
 * block-aligned chunks; each chunk is decoded into a reused float buffer and quantized into a reused
 * packed buffer that goes to a {@link Sink}; the absmax of every block lands in one tensor-wide array,
 * which is double-quantized once all chunks are done.
 *
 * <p>With one thread the chunks run on the caller's thread. With more, a fixed pool of workers takes
 * chunks from a shared counter, each worker with its own buffers, so memory stays bounded by
 * {@code threads} chunks whatever the tensor size.
 */
final class ChunkedQuantizer implements AutoCloseable {

    /** Receives each chunk's packed codes; the buffer is reused as soon as the call returns. */
    @FunctionalInterface
    interface Sink {
        void accept(int chunk, byte[] packed, int length);
    }

    /** Decodes {@code n} bf16 values from {@code src[srcOff..]} into {@code dst[0..]}. */
    @FunctionalInterface
    interface Decoder {
        void decode(byte[] src, int srcOff, int n, float[] dst);
    }

    /** The fast entry point: the Vector API where the JVM has it. */
    static final Decoder FAST_DECODE = (src, srcOff, n, dst) -> HalfFloats.decode(DType.BF16, src, srcOff, n, dst, 0);

    /** The scalar reference. */
    static final Decoder SCALAR_DECODE = (src, srcOff, n, dst) -> HalfFloats.decodeScalar(DType.BF16, src, srcOff, n, dst, 0);

    /** Discards the packed codes: what the benchmark uses, so that only the quantize path is measured. */
    static final Sink DISCARD = (chunk, packed, length) -> { };

    private final Decoder decoder;
    private final BlockwiseQuantizer quantizer;
    private final int blocksize;
    private final int chunkElements;
    private final int threads;
    private final float[][] floats;
    private final byte[][] packed;
    private final ExecutorService pool;
    /** When not null, the error of each chunk is measured while it is quantized (one sum per worker). */
    private final ErrorSums[] errors;
    private volatile AbsmaxOutliers.Result outliers;

    /** With a null decoder the quantizer reads the bf16 bytes itself ({@link BlockwiseQuantizer#quantizeBf16}). */
    ChunkedQuantizer(Decoder decoder, BlockwiseQuantizer quantizer, int blocksize, int chunkElements, int threads) {
        this(decoder, quantizer, blocksize, chunkElements, threads, false);
    }

    /**
     * @param measure also measure the error while quantizing, as the converter does for the manifest
     *                (squared error, squared values, largest error; then the absmax outlier count)
     */
    ChunkedQuantizer(Decoder decoder, BlockwiseQuantizer quantizer, int blocksize, int chunkElements, int threads,
                     boolean measure) {
        if (blocksize <= 0 || chunkElements <= 0 || chunkElements % blocksize != 0) {
            throw new IllegalArgumentException("chunk of " + chunkElements
                    + " elements is not a positive multiple of the blocksize " + blocksize);
        }
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        this.decoder = decoder;
        this.quantizer = quantizer;
        this.blocksize = blocksize;
        this.chunkElements = chunkElements;
        this.threads = threads;
        this.floats = new float[threads][chunkElements];
        this.packed = new byte[threads][(chunkElements + 1) / 2];
        this.errors = measure ? new ErrorSums[threads] : null;
        if (measure) {
            for (int i = 0; i < threads; i++) {
                errors[i] = new ErrorSums();
            }
        }
        this.pool = threads == 1 ? null : Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "quantize-worker");
            t.setDaemon(true);
            return t;
        });
    }

    /** The error of the last {@link #quantize} call, when measuring (the workers' sums added in worker order). */
    ErrorSums error() {
        ErrorSums total = new ErrorSums();
        for (ErrorSums e : errors) {
            total.add(e);
        }
        return total;
    }

    /** The absmax outliers of the last {@link #quantize} call, when measuring. */
    AbsmaxOutliers.Result outliers() {
        return outliers;
    }

    int threads() {
        return threads;
    }

    /** Block count of a tensor of {@code n} elements: the length {@code absmax} must have. */
    int blocks(int n) {
        return (n + blocksize - 1) / blocksize;
    }

    /**
     * Quantizes the {@code n} bf16 values in {@code bf16}: packed codes to {@code sink} chunk by chunk,
     * block absmax values into {@code absmax}, and returns their double quantization.
     */
    DoubleQuantizer.Result quantize(byte[] bf16, int n, float[] absmax, Sink sink) {
        int chunks = (n + chunkElements - 1) / chunkElements;
        if (errors != null) {
            for (ErrorSums e : errors) {
                e.reset();
            }
        }
        if (pool == null) {
            for (int c = 0; c < chunks; c++) {
                quantizeChunk(0, c, bf16, n, absmax, sink);
            }
        } else {
            AtomicInteger next = new AtomicInteger();
            List<Future<?>> running = new ArrayList<>(threads);
            for (int w = 0; w < threads; w++) {
                int worker = w;
                running.add(pool.submit(() -> {
                    for (int c = next.getAndIncrement(); c < chunks; c = next.getAndIncrement()) {
                        quantizeChunk(worker, c, bf16, n, absmax, sink);
                    }
                }));
            }
            awaitAll(running);
        }
        if (errors != null) {
            outliers = AbsmaxOutliers.of(absmax, blocks(n));
        }
        return DoubleQuantizer.quantize(absmax, blocks(n));
    }

    private void quantizeChunk(int worker, int chunk, byte[] bf16, int n, float[] absmax, Sink sink) {
        int start = chunk * chunkElements;
        int len = Math.min(chunkElements, n - start);
        float[] values = floats[worker];
        byte[] codes = packed[worker];
        if (decoder == null && errors == null) {
            quantizer.quantizeBf16(bf16, 2 * start, len, blocksize, codes, 0, absmax, start / blocksize);
        } else if (errors == null) {
            (decoder == null ? ChunkedQuantizer.FAST_DECODE : decoder).decode(bf16, 2 * start, len, values);
            quantizer.quantize(values, 0, len, blocksize, codes, 0, absmax, start / blocksize);
        } else if (decoder == null) {
            quantizer.quantizeBf16(bf16, 2 * start, len, blocksize, codes, 0, absmax, start / blocksize, DType.BF16,
                    errors[worker]);
        } else {
            decoder.decode(bf16, 2 * start, len, values);
            quantizer.quantize(values, 0, len, blocksize, codes, 0, absmax, start / blocksize, DType.BF16, errors[worker]);
        }
        sink.accept(chunk, codes, (len + 1) / 2);
    }

    private static void awaitAll(List<Future<?>> running) {
        try {
            for (Future<?> f : running) {
                f.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while quantizing", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("a quantize worker failed", e.getCause());
        }
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
    }
}
