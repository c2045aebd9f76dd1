package io.quantflow.core.safetensors;

import java.util.Arrays;

/**
 * One tensor of a safetensors file: name, type, shape and its byte range relative to the start
 * of the data section. Instances come out of {@link SafetensorsHeader#parse} already validated.
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {

    public TensorInfo {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    /** Number of elements (the product of the shape; 1 for a scalar). Validated not to overflow. */
    public long elements() {
        return Shapes.elements(shape);
    }

    public long byteSize() {
        return end - begin;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype
                && Arrays.equals(shape, t.shape) && begin == t.begin && end == t.end;
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
