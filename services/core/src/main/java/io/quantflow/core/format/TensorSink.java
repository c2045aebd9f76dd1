package io.quantflow.core.format;

import java.io.IOException;
import java.nio.ByteBuffer;

/** Where a {@link WeightEncoding} puts bytes: the output file, addressed by tensor name and byte offset within the tensor. */
@FunctionalInterface
public interface TensorSink {

    /** Writes {@code bytes} (position to limit) at byte {@code at} of output tensor {@code tensor}; callable from any thread. */
    void write(String tensor, long at, ByteBuffer bytes) throws IOException;

    /** A sink that keeps nothing: for measuring what encoding would lose without writing. */
    TensorSink DISCARD = (tensor, at, bytes) -> {
    };
}
