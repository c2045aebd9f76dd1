package io.quantflow.core.model;

import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.Shapes;
import io.quantflow.core.safetensors.TensorInfo;

/**
 * One tensor of the model being converted, as the outputs see it.
 *
 * @param stored      its bytes in a source file, when it is stored as it is (null for a weight held
 *                    in 4 bit, whose 16-bit form exists only as computed values)
 * @param values      its float values (null for tensors that are not BF16/F16/F32: copied as bytes)
 * @param transformed whether the values differ from the stored bytes (merged, replaced, dequantized)
 */
public record SourceTensor(String name, DType dtype, long[] shape, TensorInfo stored, TensorValues values, boolean transformed) {

    static SourceTensor plain(SafetensorsFile file, TensorInfo t) {
        return new SourceTensor(t.name(), t.dtype(), t.shape(), t,
                t.dtype().isDecodedFloat() ? TensorValues.stored(file, t) : null, false);
    }

    public long elements() {
        return Shapes.elements(shape);
    }

    public long sourceBytes() {
        return stored != null ? stored.byteSize() : (long) Math.ceil(elements() * values.sourceBytesPerValue());
    }
}
