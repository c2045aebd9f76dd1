package io.quantflow.core.format;

import io.quantflow.core.quality.MeasuredTensor;
import io.quantflow.core.quant.ErrorSums;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import java.util.function.IntFunction;

/**
 * Encoding one weight's values: chunks in any order from any thread ({@link #encode}), then {@link #finish}
 * once every chunk is done.
 */
public interface WeightEncoding {

    /**
     * Values {@code [start, start + n)} of the weight, in the weight's dtype.
     *
     * @param raw     the same values as stored BF16 bytes (little-endian), when the core read them so
     *                (see {@link #encodesBf16}); then {@code values} is null
     * @param scratch a byte buffer of this thread of at least the asked length, for the encoded bytes
     */
    record Chunk(long start, int n, float[] values, byte[] raw, IntFunction<byte[]> scratch) {
    }

    /** Encodes a chunk and writes its bytes through {@code out}; returns what encoding it lost. */
    ErrorSums encode(Chunk chunk, TensorSink out) throws IOException;

    /** Whether {@link #encode} takes a chunk of stored BF16 bytes (decoded in registers, no float copy). */
    default boolean encodesBf16() {
        return false;
    }

    /**
     * Takes the block scales an accelerator returned after it wrote the packed codes itself (only for a
     * {@link WeightCodec#accelerable} codec), instead of {@link #encode}.
     */
    default void acceleratedScales(float[] scales) {
        throw new UnsupportedOperationException("this weight encoding is not accelerated");
    }

    /**
     * After the last chunk: writes the tensors made from the whole weight through {@code out}, queueing long
     * work on {@code pool} into {@code background}, and reports what quantizing cost to {@code measured}
     * (when {@code error} is known); returns the bytes of the {@link EncodedWeight#lateTensor} (null when none),
     * which the core places once the layout knows their length.
     *
     * @param error the sum of every chunk's error, in chunk order, or null when an accelerator encoded the weight
     */
    byte[] finish(ErrorSums error, Consumer<MeasuredTensor> measured, TensorSink out, ExecutorService pool,
                  List<Future<?>> background) throws IOException;
}
