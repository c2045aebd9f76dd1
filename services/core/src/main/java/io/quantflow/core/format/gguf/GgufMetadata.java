package io.quantflow.core.format.gguf;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The key-value section of a GGUF file, in the order the keys are written. Putting a key again replaces its value
 * and keeps its place, as llama.cpp's gguf-py writer does (a Python dict), so that a file written from the same
 * calls comes out with the same bytes.
 */
public final class GgufMetadata {

    /** GGUF's value types, with their ids in the file. */
    public enum ValueType {
        UINT8(0), INT8(1), UINT16(2), INT16(3), UINT32(4), INT32(5), FLOAT32(6), BOOL(7), STRING(8), ARRAY(9),
        UINT64(10), INT64(11), FLOAT64(12);

        private final int id;

        ValueType(int id) {
            this.id = id;
        }

        public int id() {
            return id;
        }
    }

    /**
     * One value: a scalar ({@code Number}, {@code Boolean} or {@code String}, of {@code type}), or an array
     * ({@code type} ARRAY) whose elements, all of {@code elementType}, are in {@code value} as a {@code List}.
     */
    public record Value(ValueType type, ValueType elementType, Object value) {
        public Value {
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(value, "value");
            if ((type == ValueType.ARRAY) != (elementType != null)) {
                throw new IllegalArgumentException("an element type is given for arrays and only for them");
            }
            if (elementType == ValueType.ARRAY) {
                throw new IllegalArgumentException("arrays of arrays are not written");
            }
        }
    }

    private final Map<String, Value> entries = new LinkedHashMap<>();

    public GgufMetadata put(String key, Value value) {
        entries.put(Objects.requireNonNull(key, "key"), value);
        return this;
    }

    public GgufMetadata putString(String key, String value) {
        return put(key, new Value(ValueType.STRING, null, value));
    }

    public GgufMetadata putUint32(String key, long value) {
        if (value < 0 || value > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException(key + ": " + value + " is not a uint32");
        }
        return put(key, new Value(ValueType.UINT32, null, value));
    }

    public GgufMetadata putInt32(String key, int value) {
        return put(key, new Value(ValueType.INT32, null, value));
    }

    public GgufMetadata putUint64(String key, long value) {
        return put(key, new Value(ValueType.UINT64, null, value));
    }

    public GgufMetadata putFloat32(String key, float value) {
        return put(key, new Value(ValueType.FLOAT32, null, value));
    }

    public GgufMetadata putBool(String key, boolean value) {
        return put(key, new Value(ValueType.BOOL, null, value));
    }

    /** An array of {@code elementType}; elements are {@code String}, {@code Boolean} or {@code Number} as the type says. */
    public GgufMetadata putArray(String key, ValueType elementType, List<?> elements) {
        return put(key, new Value(ValueType.ARRAY, elementType, List.copyOf(elements)));
    }

    /** Removes a key (gguf-py's {@code remove_key}). */
    public GgufMetadata remove(String key) {
        entries.remove(key);
        return this;
    }

    public Value get(String key) {
        return entries.get(key);
    }

    /** The entries in the order they are written. */
    public Map<String, Value> entries() {
        return Collections.unmodifiableMap(entries);
    }
}
