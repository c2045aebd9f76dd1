package io.quantflow.core.safetensors;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The parsed and validated JSON header of a safetensors file.
 *
 * <p>Nothing in a header is trusted: the header length is capped, the JSON must be UTF-8 with no
 * duplicate names and no unknown fields, every dtype must be known, shapes must be non-negative and
 * their element count must not overflow, every tensor's byte length must equal elements x dtype size,
 * and the byte ranges must tile the data section exactly (start at 0, contiguous, no overlap, end
 * at the end of the file). Every violation is an {@code INVALID_CHECKPOINT} naming the tensor.
 */
public final class SafetensorsHeader {
    /** Same cap as the reference implementation: a header over 100 MB is refused. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;
    public static final int MAX_RANK = 64;
    public static final int MAX_NAME_LENGTH = 4096;

    private static final JsonFactory JSON = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(8)
                    .maxNumberLength(40)
                    .maxStringLength((int) MAX_HEADER_BYTES)
                    .build())
            .build();

    private final Map<String, String> metadata;
    private final List<TensorInfo> tensors;
    private final Map<String, TensorInfo> byName;

    private SafetensorsHeader(Map<String, String> metadata, List<TensorInfo> tensorsByOffset) {
        this.metadata = Collections.unmodifiableMap(metadata);
        this.tensors = List.copyOf(tensorsByOffset);
        Map<String, TensorInfo> m = new LinkedHashMap<>();
        for (TensorInfo t : tensorsByOffset) {
            m.put(t.name(), t);
        }
        this.byName = Collections.unmodifiableMap(m);
    }

    /** The {@code __metadata__} map (empty when absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Tensors in the order of their data offsets. */
    public List<TensorInfo> tensors() {
        return tensors;
    }

    public TensorInfo tensor(String name) {
        return byName.get(name);
    }

    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    /** Total bytes of the data section. */
    public long dataLength() {
        return tensors.isEmpty() ? 0 : tensors.get(tensors.size() - 1).end();
    }

    /**
     * Parses and validates a header.
     *
     * @param json       the header bytes (between the 8-byte length and the data section)
     * @param dataLength the bytes that follow the header in the file
     * @param where      a file name for messages
     */
    public static SafetensorsHeader parse(byte[] json, long dataLength, String where) {
        String text = decodeUtf8(json, where);
        if (text.isEmpty() || text.charAt(0) != '{') {
            throw bad(Reason.HEADER_MALFORMED, where, "header does not start with '{'");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        List<TensorInfo> tensors = new ArrayList<>();
        try (JsonParser p = JSON.createParser(text)) {
            expect(Reason.HEADER_MALFORMED, p.nextToken(), JsonToken.START_OBJECT, where, "header");
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                if (name.equals("__metadata__")) {
                    readMetadata(p, metadata, where);
                } else {
                    checkName(name, where);
                    tensors.add(readTensor(p, name, where));
                }
            }
            expect(Reason.HEADER_MALFORMED, t, JsonToken.END_OBJECT, where, "header");
            if (p.nextToken() != null) {
                throw bad(Reason.HEADER_MALFORMED, where, "trailing data after the header's JSON object");
            }
        } catch (JsonParseException e) {
            String msg = e.getOriginalMessage();
            if (msg != null && msg.startsWith("Duplicate field")) {
                throw duplicate(e, msg.substring(msg.indexOf('\'')), where);
            }
            throw bad(Reason.HEADER_MALFORMED, where, "header is not valid JSON (" + firstLine(msg) + ")");
        } catch (IOException e) {
            throw bad(Reason.HEADER_MALFORMED, where, "header is not valid JSON (" + firstLine(e.getMessage()) + ")");
        }
        tensors.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long expected = 0;
        for (TensorInfo ti : tensors) {
            if (ti.begin() != expected) {
                throw bad(Reason.DATA_SECTION_INVALID, where, ti.begin() < expected
                        ? "tensor '" + ti.name() + "' overlaps the tensor before it (offset " + ti.begin() + ")"
                        : "gap in the data section before tensor '" + ti.name() + "' (offset " + ti.begin()
                                + ", expected " + expected + ")");
            }
            long bytes;
            try {
                bytes = Math.multiplyExact(ti.elements(), ti.dtype().size());
            } catch (ArithmeticException e) {
                throw bad(Reason.TENSOR_SIZE_INVALID, where, "tensor '" + ti.name() + "' shape overflows");
            }
            if (ti.end() - ti.begin() != bytes) {
                throw bad(Reason.TENSOR_SIZE_INVALID, where, "tensor '" + ti.name() + "' holds " + (ti.end() - ti.begin())
                        + " bytes but its shape and dtype need " + bytes);
            }
            expected = ti.end();
        }
        if (expected != dataLength) {
            throw bad(Reason.DATA_SECTION_INVALID, where, expected > dataLength
                    ? "tensor data runs past the end of the file (" + expected + " > " + dataLength + " bytes)"
                    : "file has " + (dataLength - expected) + " bytes after the last tensor");
        }
        return new SafetensorsHeader(metadata, tensors);
    }

    /** A duplicate at the top level is a tensor name (or {@code __metadata__}); deeper, a field of a tensor. */
    private static QuantflowException duplicate(JsonParseException e, String quotedName, String where) {
        if (e.getProcessor() instanceof JsonParser p) {
            JsonStreamContext object = p.getParsingContext();
            JsonStreamContext parent = object == null ? null : object.getParent();
            if (parent != null && !parent.inRoot()) {
                String owner = parent.getCurrentName();
                return "__metadata__".equals(owner)
                        ? bad(Reason.METADATA_MALFORMED, where, "__metadata__ has a duplicate key " + quotedName)
                        : bad(Reason.TENSOR_ENTRY_MALFORMED, where, "tensor '" + owner + "' has a duplicate field " + quotedName);
            }
        }
        return quotedName.equals("'__metadata__'")
                ? bad(Reason.METADATA_MALFORMED, where, "__metadata__ appears twice in the header")
                : bad(Reason.TENSOR_NAME_INVALID, where, "duplicate tensor name in header: " + quotedName);
    }

    private static void readMetadata(JsonParser p, Map<String, String> metadata, String where) throws IOException {
        expect(Reason.METADATA_MALFORMED, p.nextToken(), JsonToken.START_OBJECT, where, "__metadata__");
        JsonToken t;
        while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
            String key = p.currentName();
            if (p.nextToken() != JsonToken.VALUE_STRING) {
                throw bad(Reason.METADATA_MALFORMED, where, "__metadata__ value of '" + key + "' is not a string");
            }
            metadata.put(key, p.getText());
        }
        expect(Reason.METADATA_MALFORMED, t, JsonToken.END_OBJECT, where, "__metadata__");
    }

    private static TensorInfo readTensor(JsonParser p, String name, String where) throws IOException {
        expect(Reason.TENSOR_ENTRY_MALFORMED, p.nextToken(), JsonToken.START_OBJECT, where, "tensor '" + name + "'");
        DType dtype = null;
        long[] shape = null;
        long[] offsets = null;
        JsonToken t;
        while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            switch (field) {
                case "dtype" -> {
                    if (p.nextToken() != JsonToken.VALUE_STRING) {
                        throw bad(Reason.TENSOR_ENTRY_MALFORMED, where, "tensor '" + name + "' dtype is not a string");
                    }
                    String d = p.getText();
                    dtype = DType.parse(d).orElseThrow(() -> bad(Reason.TENSOR_ENTRY_MALFORMED, where, "tensor '" + name + "' has unknown dtype " + d));
                }
                case "shape" -> shape = readLongs(p, name, "shape", MAX_RANK, where);
                case "data_offsets" -> offsets = readLongs(p, name, "data_offsets", 2, where);
                default -> throw bad(Reason.TENSOR_ENTRY_MALFORMED, where, "tensor '" + name + "' has unknown field '" + field + "'");
            }
        }
        expect(Reason.TENSOR_ENTRY_MALFORMED, t, JsonToken.END_OBJECT, where, "tensor '" + name + "'");
        if (dtype == null || shape == null || offsets == null) {
            throw bad(Reason.TENSOR_ENTRY_MALFORMED, where, "tensor '" + name + "' lacks dtype, shape or data_offsets");
        }
        if (offsets.length != 2) {
            throw bad(Reason.TENSOR_ENTRY_MALFORMED, where, "tensor '" + name + "' data_offsets must hold two numbers");
        }
        if (offsets[1] < offsets[0]) {
            throw bad(Reason.TENSOR_ENTRY_MALFORMED, where, "tensor '" + name + "' ends before it begins");
        }
        long n = 1;
        for (long d : shape) {
            try {
                n = Math.multiplyExact(n, d);
            } catch (ArithmeticException e) {
                throw bad(Reason.TENSOR_SIZE_INVALID, where, "tensor '" + name + "' shape overflows");
            }
        }
        return new TensorInfo(name, dtype, shape, offsets[0], offsets[1]);
    }

    private static long[] readLongs(JsonParser p, String name, String field, int max, String where) throws IOException {
        expect(Reason.TENSOR_ENTRY_MALFORMED, p.nextToken(), JsonToken.START_ARRAY, where, "tensor '" + name + "' " + field);
        long[] out = new long[Math.min(max, 8)];
        int n = 0;
        JsonToken t;
        while ((t = p.nextToken()) == JsonToken.VALUE_NUMBER_INT) {
            if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                throw bad(Reason.TENSOR_ENTRY_MALFORMED, where, "tensor '" + name + "' " + field + " value too large");
            }
            long v = p.getLongValue();
            if (v < 0) {
                throw bad(Reason.TENSOR_ENTRY_MALFORMED, where, "tensor '" + name + "' " + field + " holds a negative value");
            }
            if (n == max) {
                throw bad(Reason.TENSOR_ENTRY_MALFORMED, where, "tensor '" + name + "' " + field + " has more than " + max + " entries");
            }
            if (n == out.length) {
                out = Arrays.copyOf(out, out.length * 2);
            }
            out[n++] = v;
        }
        expect(Reason.TENSOR_ENTRY_MALFORMED, t, JsonToken.END_ARRAY, where, "tensor '" + name + "' " + field + " (integers only)");
        return Arrays.copyOf(out, n);
    }

    /** Names are used as keys and in messages: refuse control characters and anything path-like. */
    static void checkName(String name, String where) {
        if (name.isEmpty() || name.length() > MAX_NAME_LENGTH) {
            throw bad(Reason.TENSOR_NAME_INVALID, where, "tensor name is empty or longer than " + MAX_NAME_LENGTH + " characters");
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c < 0x20 || c == 0x7f || c == '\\') {
                throw bad(Reason.TENSOR_NAME_INVALID, where, "tensor name contains a control character or backslash");
            }
        }
        if (name.startsWith("/") || name.contains("//") || Arrays.asList(name.split("/", -1)).contains("..")) {
            throw bad(Reason.TENSOR_NAME_INVALID, where, "tensor name looks like a path: '" + name + "'");
        }
    }

    private static void expect(Reason reason, JsonToken actual, JsonToken wanted, String where, String what) {
        if (actual != wanted) {
            throw bad(reason, where, what + ": expected " + describe(wanted) + " but found " + describe(actual));
        }
    }

    private static String describe(JsonToken t) {
        if (t == null) {
            return "end of header";
        }
        return switch (t) {
            case START_OBJECT -> "an object";
            case END_OBJECT -> "the end of an object";
            case START_ARRAY -> "an array";
            case END_ARRAY -> "the end of an array";
            case FIELD_NAME -> "a name";
            default -> "a " + t.name().toLowerCase(Locale.ROOT).replace('_', ' ');
        };
    }

    private static String decodeUtf8(byte[] json, String where) {
        try {
            CharBuffer cb = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(json));
            return cb.toString();
        } catch (CharacterCodingException e) {
            throw bad(Reason.HEADER_MALFORMED, where, "header is not valid UTF-8");
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unreadable";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    static QuantflowException bad(Reason reason, String where, String message) {
        return QuantflowException.of(reason, where + ": " + message);
    }
}
