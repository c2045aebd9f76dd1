package io.quantflow.core.safetensors;

import java.util.Arrays;

/** A tensor to be written: its name, type and shape. Its byte length follows from them. */
public record TensorSpec(String name, DType dtype, long[] shape) {
    public TensorSpec {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long elements() {
        return Shapes.elements(shape);
    }

    public long byteSize() {
        return Math.multiplyExact(elements(), dtype.size());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpec t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
