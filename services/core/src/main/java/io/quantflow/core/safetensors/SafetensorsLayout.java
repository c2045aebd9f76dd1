package io.quantflow.core.safetensors;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where every tensor of a safetensors file goes, computed from names, dtypes and shapes alone,
 * before any data is written. The order is the reference writer's (descending dtype, then name)
 * and the header JSON is byte-for-byte what it writes (compact JSON, {@code __metadata__} first,
 * spaces to a multiple of 8), so a file written from this layout is identical to one that
 * {@code safetensors.torch.save_file} writes for the same tensors.
 */
public final class SafetensorsLayout {
    /** Names compare as Rust strings do (UTF-8 bytes, i.e. code points), not as UTF-16 units. */
    private static final Comparator<TensorSpec> FILE_ORDER =
            Comparator.comparing(TensorSpec::dtype, Comparator.reverseOrder())
                    .thenComparing(TensorSpec::name, SafetensorsLayout::compareCodePoints);

    private final Map<String, String> metadata;
    private final List<TensorInfo> entries;
    private final Map<String, TensorInfo> byName;
    private final long dataLength;

    private SafetensorsLayout(Map<String, String> metadata, List<TensorInfo> entries, long dataLength) {
        this.metadata = metadata;
        this.entries = entries;
        this.dataLength = dataLength;
        Map<String, TensorInfo> m = new HashMap<>();
        for (TensorInfo e : entries) {
            m.put(e.name(), e);
        }
        this.byName = m;
    }

    public static SafetensorsLayout of(Map<String, String> metadata, List<TensorSpec> specs) {
        List<TensorSpec> sorted = new ArrayList<>(specs);
        sorted.sort(FILE_ORDER);
        List<TensorInfo> entries = new ArrayList<>(sorted.size());
        long offset = 0;
        String previous = null;
        for (TensorSpec s : sorted) {
            if (s.name().equals(previous)) {
                throw new IllegalArgumentException("duplicate tensor name " + s.name());
            }
            previous = s.name();
            long end = Math.addExact(offset, s.byteSize());
            entries.add(new TensorInfo(s.name(), s.dtype(), s.shape(), offset, end));
            offset = end;
        }
        return new SafetensorsLayout(new LinkedHashMap<>(metadata), Collections.unmodifiableList(entries), offset);
    }

    static int compareCodePoints(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(j);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }

    /** Tensors in file order, with offsets relative to the start of the data section. */
    public List<TensorInfo> entries() {
        return entries;
    }

    public TensorInfo entry(String name) {
        TensorInfo e = byName.get(name);
        if (e == null) {
            throw new IllegalArgumentException("no tensor " + name + " in layout");
        }
        return e;
    }

    public long dataLength() {
        return dataLength;
    }

    /** The header JSON without padding. */
    public byte[] headerJson() {
        StringBuilder sb = new StringBuilder(64 + entries.size() * 96);
        sb.append('{');
        boolean first = true;
        if (!metadata.isEmpty()) {
            sb.append("\"__metadata__\":{");
            boolean firstMeta = true;
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (!firstMeta) {
                    sb.append(',');
                }
                firstMeta = false;
                appendString(sb, e.getKey());
                sb.append(':');
                appendString(sb, e.getValue());
            }
            sb.append('}');
            first = false;
        }
        for (TensorInfo t : entries) {
            if (!first) {
                sb.append(',');
            }
            first = false;
            appendString(sb, t.name());
            sb.append(":{\"dtype\":\"").append(t.dtype().name()).append("\",\"shape\":[");
            long[] shape = t.shape();
            for (int i = 0; i < shape.length; i++) {
                if (i > 0) {
                    sb.append(',');
                }
                sb.append(shape[i]);
            }
            sb.append("],\"data_offsets\":[").append(t.begin()).append(',').append(t.end()).append("]}");
        }
        sb.append('}');
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Length of the padded header the reference writer produces (a multiple of 8). */
    public int paddedHeaderLength() {
        int n = headerJson().length;
        return n + (8 - n % 8) % 8;
    }

    /**
     * The 8-byte length prefix plus the header padded with spaces to {@code headerLength} bytes.
     *
     * @param headerLength a multiple of 8, at least {@link #paddedHeaderLength()}
     */
    public byte[] prefix(int headerLength) {
        byte[] json = headerJson();
        if (headerLength < json.length || headerLength % 8 != 0) {
            throw new IllegalArgumentException("header needs " + json.length + " bytes, " + headerLength + " reserved");
        }
        byte[] out = new byte[8 + headerLength];
        long n = headerLength;
        for (int i = 0; i < 8; i++) {
            out[i] = (byte) (n >>> (8 * i));
        }
        System.arraycopy(json, 0, out, 8, json.length);
        for (int i = 8 + json.length; i < out.length; i++) {
            out[i] = ' ';
        }
        return out;
    }

    /** JSON string escaping as serde_json does it: quotes, backslash and control characters. */
    static void appendString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
