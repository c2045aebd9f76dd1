package io.quantflow.core.model;

import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.Shapes;
import io.quantflow.core.safetensors.TensorInfo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.ExecutorService;

/**
 * Where the float32 values of one output tensor come from, a stretch at a time and from any
 * thread: the stored tensor decoded, or decoded and then transformed (a LoRA merge, a replacement, a
 * 4-bit base dequantized). Values come out already rounded to {@link #dtype()}.
 */
public interface TensorValues {
    /** Values per chunk the conversion reads at a time: 512 KiB of bf16, small enough to stay in cache. */
    int CHUNK_ELEMENTS = 1 << 18;


    String name();

    /** The precision of the values: what a 16-bit output writes and a quant state records. */
    DType dtype();

    long[] shape();

    default long elements() {
        return Shapes.elements(shape());
    }

    /** The stored tensor when the values are exactly its decoded bytes (so its bytes may be copied as they are); else null. */
    Stored stored();

    /** Bytes of source read per value (for progress). */
    double sourceBytesPerValue();

    /**
     * Puts values {@code [start, start + n)} in {@code scratch.values()}; when {@link #stored()} is not
     * null, also leaves their stored bytes in {@code scratch.raw()}.
     */
    void read(long start, int n, Scratch scratch) throws IOException;

    /** Work needed once before any {@link #read} (e.g. the row norms of a DoRA merge). */
    default void prepare(ExecutorService pool) throws IOException {
    }

    /** Drops what {@link #prepare} held, once the tensor is written. */
    default void release() {
    }

    /** A tensor as stored in a source file. */
    record Stored(SafetensorsFile file, TensorInfo info) {
    }

    /** The stored tensor, decoded. */
    static TensorValues stored(SafetensorsFile file, TensorInfo info) {
        return new StoredValues(new Stored(file, info));
    }

    /** Per-thread buffers, grown on demand and reused across chunks. */
    final class Scratch {
        private ByteBuffer raw = ByteBuffer.allocate(0);
        private float[] values = new float[0];
        private float[] spare = new float[0];
        private byte[] out = new byte[0];
        private float[] absmax = new float[0];

        public ByteBuffer raw(int bytes) {
            if (raw.capacity() < bytes) {
                raw = ByteBuffer.allocate(bytes);
            }
            raw.clear().limit(bytes);
            return raw;
        }

        public ByteBuffer raw() {
            return raw;
        }

        public float[] values(int n) {
            if (values.length < n) {
                values = new float[n];
            }
            return values;
        }

        public float[] values() {
            return values;
        }

        /** A second float buffer, for a rounded copy of the values. */
        public float[] spare(int n) {
            if (spare.length < n) {
                spare = new float[n];
            }
            return spare;
        }

        /** Block absmax values of a chunk quantized only to be measured. */
        public float[] absmax(int n) {
            if (absmax.length < n) {
                absmax = new float[n];
            }
            return absmax;
        }

        /** Output bytes: encoded values or packed codes. */
        public byte[] out(int n) {
            if (out.length < n) {
                out = new byte[n];
            }
            return out;
        }
    }
}
