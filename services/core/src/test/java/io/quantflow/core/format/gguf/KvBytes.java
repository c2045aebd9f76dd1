package io.quantflow.core.format.gguf;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * One key-value entry of a GGUF file as its bytes (little-endian: u64 key length, key, u32 type, value), the way
 * gguf-py's writer packs it; the tests compare the sha256 of these bytes with what convert_hf_to_gguf.py wrote.
 */
final class KvBytes {
    private KvBytes() {
    }

    static byte[] of(String key, GgufMetadata.Value v) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        string(out, key);
        u32(out, v.type().id());
        if (v.type() == GgufMetadata.ValueType.ARRAY) {
            List<?> items = (List<?>) v.value();
            u32(out, v.elementType().id());
            u64(out, items.size());
            for (Object item : items) {
                scalar(out, v.elementType(), item);
            }
        } else {
            scalar(out, v.type(), v.value());
        }
        return out.toByteArray();
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void scalar(ByteArrayOutputStream out, GgufMetadata.ValueType t, Object v) {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        switch (t) {
            case STRING -> string(out, (String) v);
            case BOOL -> out.write((Boolean) v ? 1 : 0);
            case UINT8, INT8 -> out.write(((Number) v).intValue());
            case UINT16, INT16 -> out.write(b.putShort(((Number) v).shortValue()).array(), 0, 2);
            case UINT32, INT32 -> out.write(b.putInt((int) ((Number) v).longValue()).array(), 0, 4);
            case FLOAT32 -> out.write(b.putFloat(((Number) v).floatValue()).array(), 0, 4);
            case UINT64, INT64 -> out.write(b.putLong(((Number) v).longValue()).array(), 0, 8);
            case FLOAT64 -> out.write(b.putDouble(((Number) v).doubleValue()).array(), 0, 8);
            case ARRAY -> throw new IllegalArgumentException("nested array");
        }
    }

    private static void string(ByteArrayOutputStream out, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        u64(out, b.length);
        out.writeBytes(b);
    }

    private static void u32(ByteArrayOutputStream out, long v) {
        out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v).array(), 0, 4);
    }

    private static void u64(ByteArrayOutputStream out, long v) {
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array(), 0, 8);
    }
}
