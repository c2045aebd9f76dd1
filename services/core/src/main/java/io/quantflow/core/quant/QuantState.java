package io.quantflow.core.quant;

import io.quantflow.core.json.PythonJson;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.Shapes;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The quant-state JSON bitsandbytes stores beside each 4-bit weight (tensor
 * {@code <weight>.quant_state.bitsandbytes__<type>}), byte for byte as {@code QuantState.as_dict}
 * and {@code json.dumps} write it.
 *
 * @param doubleQuant  whether the absmax values are double-quantized (then the nested fields are written)
 * @param nestedOffset the double-quant offset; ignored without double quantization
 */
public record QuantState(QuantType type, int blocksize, DType dtype, long[] shape, boolean doubleQuant, float nestedOffset) {

    /** The longest a {@code nested_offset} value prints as: sign, 17 digits, point, exponent. */
    public static final int MAX_OFFSET_CHARS = 24;

    public QuantState {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of values of the weight (the product of its shape). */
    public long elements() {
        return Shapes.elements(shape);
    }

    /** Equal fields, the shape by its values and the offset by its bits (as a record compares a float). */
    @Override
    public boolean equals(Object o) {
        return o instanceof QuantState s && type == s.type && blocksize == s.blocksize && dtype == s.dtype
                && Arrays.equals(shape, s.shape) && doubleQuant == s.doubleQuant
                && Float.compare(nestedOffset, s.nestedOffset) == 0;
    }

    @Override
    public int hashCode() {
        return ((type.hashCode() * 31 + blocksize) * 31 + dtype.hashCode()) * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return type.id() + " bs" + blocksize + (doubleQuant ? " dq" : "") + " " + dtype + Arrays.toString(shape);
    }

    public byte[] toJson() {
        return json(doubleQuant ? PythonJson.repr(nestedOffset) : null);
    }

    /** The longest {@link #toJson()} can be for any offset: what to reserve before the offset is known. */
    public int maxJsonLength() {
        return json(doubleQuant ? "0".repeat(MAX_OFFSET_CHARS) : null).length;
    }

    private byte[] json(String offsetText) {
        StringBuilder sb = new StringBuilder(200);
        sb.append("{\"quant_type\": \"").append(type.id()).append("\", \"blocksize\": ").append(blocksize)
                .append(", \"dtype\": \"").append(dtype.torchName()).append("\", \"shape\": [");
        for (int i = 0; i < shape.length; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            sb.append(shape[i]);
        }
        sb.append(']');
        if (offsetText != null) {
            sb.append(", \"nested_blocksize\": ").append(DoubleQuantizer.NESTED_BLOCKSIZE)
                    .append(", \"nested_dtype\": \"float32\", \"nested_offset\": ").append(offsetText);
        }
        sb.append('}');
        return sb.toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** Tensor name suffix: {@code quant_state.bitsandbytes__nf4}. */
    public static String tensorSuffix(QuantType type) {
        return "quant_state.bitsandbytes__" + type.id();
    }
}
