package io.quantflow.core.model;

import io.quantflow.core.quant.DtypeEncoding;
import io.quantflow.core.safetensors.DType;

import java.io.IOException;

/** A base tensor replaced by the adapter's full copy of it ({@code modules_to_save}), in the base's dtype. */
final class ReplacedValues implements TensorValues {
    private final TensorValues replacement;
    private final DType dtype;

    ReplacedValues(TensorValues replacement, DType dtype) {
        this.replacement = replacement;
        this.dtype = dtype;
    }

    @Override
    public String name() {
        return replacement.name();
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
    public long[] shape() {
        return replacement.shape();
    }

    @Override
    public Stored stored() {
        return null;
    }

    @Override
    public double sourceBytesPerValue() {
        return replacement.sourceBytesPerValue();
    }

    @Override
    public void read(long start, int n, Scratch scratch) throws IOException {
        replacement.read(start, n, scratch);
        DtypeEncoding.round(dtype, scratch.values(), 0, n);
    }
}
