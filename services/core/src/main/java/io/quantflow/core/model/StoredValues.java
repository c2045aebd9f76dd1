package io.quantflow.core.model;

import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.safetensors.DType;

import java.io.IOException;
import java.nio.ByteBuffer;

/** A BF16, F16 or F32 tensor of a source file, decoded as it is stored. */
record StoredValues(Stored source) implements TensorValues {

    @Override
    public String name() {
        return source.info().name();
    }

    @Override
    public DType dtype() {
        return source.info().dtype();
    }

    @Override
    public long[] shape() {
        return source.info().shape();
    }

    @Override
    public Stored stored() {
        return source;
    }

    @Override
    public double sourceBytesPerValue() {
        return source.info().dtype().size();
    }

    @Override
    public void read(long start, int n, Scratch scratch) throws IOException {
        int size = source.info().dtype().size();
        ByteBuffer raw = scratch.raw(n * size);
        source.file().read(source.info(), start * size, raw);
        HalfFloats.decode(source.info().dtype(), raw.array(), 0, n, scratch.values(n), 0);
    }
}
