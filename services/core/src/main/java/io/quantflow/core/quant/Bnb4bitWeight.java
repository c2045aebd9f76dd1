package io.quantflow.core.quant;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.SafetensorsHeader;
import io.quantflow.core.safetensors.TensorInfo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * One bitsandbytes 4-bit weight of a safetensors file, as transformers' {@code save_pretrained} writes
 * a {@code Params4bit}: the packed codes under the weight's own name {@code W}, its per-block
 * {@code W.absmax}, the 16-value {@code W.quant_map}, with double quantization also
 * {@code W.nested_absmax} and {@code W.nested_quant_map}, and the quant-state JSON as U8 bytes in
 * {@code W.quant_state.bitsandbytes__nf4} (or {@code __fp4}).
 *
 * <p>Instances come out of {@link #find} only after the JSON has been checked against the tensors,
 * so that {@link Dequantizer} can trust every count: the shape's product fixes the packed byte
 * count ({@code ceil(n/2)}) and the number of blocks ({@code ceil(n/blocksize)}), which fixes the
 * absmax count, which fixes the nested block count. Double quantization is present exactly when
 * {@code W.nested_absmax} is, as bitsandbytes' {@code QuantState.from_dict} decides it.
 *
 * @param name           the weight's tensor name, e.g. {@code model.layers.0.mlp.down_proj.weight}
 * @param state          the quant state read from the JSON: quant type, blocksize, the dtype the weight
 *                       dequantizes to (the model's), the logical shape of the weight (not the packed
 *                       tensor's), double quantization and its offset as a float32 (0 without);
 *                       {@link QuantState#toJson()} writes it back
 * @param packed         {@code W}: the codes, two a byte, first element in the high nibble. Its dtype
 *                       is normally U8; other storage dtypes ({@code bnb_4bit_quant_storage}) hold the
 *                       same bytes and are accepted
 * @param nestedAbsmax   null without double quantization; so is {@code nestedQuantMap}
 * @param quantState     the tensor holding the quant-state JSON
 */
public record Bnb4bitWeight(String name, QuantState state, TensorInfo packed, TensorInfo absmax, TensorInfo quantMap,
                            TensorInfo nestedAbsmax, TensorInfo nestedQuantMap, TensorInfo quantState) {

    /** The tensor-name infix that marks a quant state: {@code W.quant_state.bitsandbytes__nf4}. */
    public static final String STATE_INFIX = ".quant_state.bitsandbytes__";
    /** The only nested blocksize bitsandbytes writes (quantize_4bit double-quantizes with 256). */
    public static final int NESTED_BLOCKSIZE = DoubleQuantizer.NESTED_BLOCKSIZE;
    /** Quant-state JSON is a couple of hundred bytes; anything past this is not one. */
    static final int MAX_STATE_BYTES = 64 * 1024;

    private static final Set<String> STATE_KEYS = Set.of("quant_type", "blocksize", "dtype", "shape",
            "nested_blocksize", "nested_dtype", "nested_offset");
    private static final List<String> COMPANIONS = List.of(".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map");
    private static final Set<String> NESTED_KEYS = Set.of("nested_blocksize", "nested_dtype", "nested_offset");
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(JsonParser.Feature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    public QuantType type() {
        return state.type();
    }

    public int blocksize() {
        return state.blocksize();
    }

    /** The dtype the weight dequantizes to (the model's). */
    public DType dtype() {
        return state.dtype();
    }

    /** The logical shape of the weight (not the packed tensor's). */
    public long[] shape() {
        return state.shape();
    }

    public boolean doubleQuant() {
        return state.doubleQuant();
    }

    /** The double-quant offset from the JSON, as a float32; 0 without double quantization. */
    public float nestedOffset() {
        return state.nestedOffset();
    }

    /** Number of values of the weight (the product of its shape). */
    public long elements() {
        return state.elements();
    }

    /** Number of absmax blocks: {@code ceil(elements / blocksize)}. */
    public int blocks() {
        return (int) ((elements() + blocksize() - 1) / blocksize());
    }

    /** Number of nested absmax values with double quantization: {@code ceil(blocks / 256)}; 0 without. */
    public int nestedBlocks() {
        return doubleQuant() ? (blocks() + NESTED_BLOCKSIZE - 1) / NESTED_BLOCKSIZE : 0;
    }

    /**
     * Finds every 4-bit weight of a file (a tensor {@code W} with {@code W.absmax}, {@code W.quant_map},
     * {@code W.quant_state.bitsandbytes__nf4|fp4} and, with double quantization, the nested tensors),
     * parsing and validating each quant-state JSON against the tensors: known keys only, quant type
     * matching the tensor name, a blocksize bitsandbytes supports, a 16/32-bit float dtype name, a shape
     * whose product gives the packed byte count and the block counts, the nested fields present exactly
     * with the nested tensors, and a {@code quant_map} equal to the type's code book (bitsandbytes'
     * kernels decode with their built-in table, so a different stored map would mean two readings).
     * A companion tensor ({@code W.absmax}, ...) beside a tensor {@code W} with no quant state is refused.
     *
     * @return the weights by name, sorted
     * @throws QuantflowException INVALID_CHECKPOINT naming the weight on any inconsistency
     */
    public static Map<String, Bnb4bitWeight> find(SafetensorsFile f) {
        SafetensorsHeader h = f.header();
        Map<String, Bnb4bitWeight> out = new TreeMap<>();
        for (TensorInfo t : h.tensors()) {
            int at = t.name().lastIndexOf(STATE_INFIX);
            if (at < 0) {
                continue;
            }
            String weight = t.name().substring(0, at);
            String typeName = t.name().substring(at + STATE_INFIX.length());
            QuantType type = switch (typeName) {
                case "nf4" -> QuantType.NF4;
                case "fp4" -> QuantType.FP4;
                default -> throw bad(Reason.QUANT_STATE_INVALID, f, weight, "unknown quant type '" + typeName + "' in " + t.name()
                        + " (bitsandbytes' 4-bit types are nf4 and fp4)");
            };
            if (out.containsKey(weight)) {
                throw bad(Reason.QUANT_STATE_INVALID, f, weight, "has both an nf4 and an fp4 quant state");
            }
            out.put(weight, read(f, weight, type));
        }
        for (TensorInfo t : h.tensors()) {
            for (String suffix : COMPANIONS) {
                if (t.name().endsWith(suffix)) {
                    String weight = t.name().substring(0, t.name().length() - suffix.length());
                    if (!out.containsKey(weight) && h.contains(weight)) {
                        throw bad(Reason.QUANT_TENSOR_MISSING, f, weight, "has " + t.name() + " but no " + weight + STATE_INFIX
                                + "nf4 or " + weight + STATE_INFIX + "fp4 saying how to read it");
                    }
                }
            }
        }
        return Collections.unmodifiableMap(out);
    }

    /** Reads and validates the 4-bit weight {@code weight} whose quant state names {@code type}. */
    static Bnb4bitWeight read(SafetensorsFile f, String weight, QuantType type) {
        SafetensorsHeader h = f.header();
        TensorInfo state = h.tensor(weight + STATE_INFIX + type.id());
        TensorInfo packed = h.tensor(weight);
        if (packed == null) {
            throw bad(Reason.QUANT_TENSOR_MISSING, f, weight, "has a quant state but no packed tensor " + weight);
        }
        TensorInfo absmax = require(f, weight, ".absmax");
        TensorInfo quantMap = require(f, weight, ".quant_map");
        TensorInfo nestedAbsmax = h.tensor(weight + ".nested_absmax");
        TensorInfo nestedQuantMap = h.tensor(weight + ".nested_quant_map");
        boolean dq = nestedAbsmax != null;
        if (!dq && nestedQuantMap != null) {
            throw bad(Reason.QUANT_TENSOR_MISSING, f, weight, "has " + nestedQuantMap.name() + " but no " + weight + ".nested_absmax");
        }
        if (dq && nestedQuantMap == null) {
            throw bad(Reason.QUANT_TENSOR_MISSING, f, weight, "has " + nestedAbsmax.name() + " but no " + weight + ".nested_quant_map");
        }

        JsonNode json = parseState(f, weight, state);
        for (Iterator<String> it = json.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!STATE_KEYS.contains(key)) {
                throw bad(Reason.QUANT_STATE_INVALID, f, weight, "quant state has an unknown field '" + key + "'");
            }
        }
        String quantType = text(f, weight, json, "quant_type");
        if (!quantType.equals(type.id())) {
            throw bad(Reason.QUANT_STATE_INVALID, f, weight, "quant state says quant_type '" + quantType + "' but is stored as " + state.name());
        }
        int blocksize = (int) integer(f, weight, json, "blocksize");
        if (blocksize < 32 || blocksize > 4096 || Integer.bitCount(blocksize) != 1) {
            throw bad(Reason.QUANT_STATE_INVALID, f, weight, "blocksize " + blocksize + " is not one bitsandbytes uses (32, 64, ..., 4096)");
        }
        String dtypeName = text(f, weight, json, "dtype");
        DType dtype = DType.fromTorchName(dtypeName).orElseThrow(() -> bad(Reason.QUANT_STATE_INVALID, f, weight,
                "quant state dtype '" + dtypeName + "' is not bfloat16, float16 or float32"));
        long[] shape = shape(f, weight, json);
        long n = 1;
        for (long d : shape) {
            try {
                n = Math.multiplyExact(n, d);
            } catch (ArithmeticException e) {
                throw bad(Reason.QUANT_STATE_INVALID, f, weight, "quant state shape " + Arrays.toString(shape) + " overflows");
            }
        }
        if (n == 0) {
            throw bad(Reason.QUANT_STATE_INVALID, f, weight, "quant state shape " + Arrays.toString(shape) + " has no elements");
        }
        if (packed.byteSize() != (n + 1) / 2) {
            throw bad(Reason.QUANT_TENSOR_MISMATCH, f, weight, "quant state shape " + Arrays.toString(shape) + " holds " + n + " values, which pack into "
                    + (n + 1) / 2 + " bytes, but " + weight + " is " + packed.dtype() + Arrays.toString(packed.shape())
                    + " (" + packed.byteSize() + " bytes)");
        }
        long blocks = (n + blocksize - 1) / blocksize;
        if (blocks > Integer.MAX_VALUE - 8) {
            throw bad(Reason.QUANT_STATE_INVALID, f, weight, "has " + blocks + " blocks, more than quantflow can hold");
        }
        expect(f, weight, absmax, dq ? DType.U8 : DType.F32, blocks, dq
                ? "one 8-bit code per block of " + blocksize : "one float32 per block of " + blocksize);
        expect(f, weight, quantMap, DType.F32, 16, "the 16 code values");

        boolean nestedFields = json.has("nested_offset") || json.has("nested_blocksize") || json.has("nested_dtype");
        float offset = 0f;
        if (dq) {
            for (String key : NESTED_KEYS) {
                if (!json.has(key)) {
                    throw bad(Reason.QUANT_STATE_INVALID, f, weight, "has " + nestedAbsmax.name() + " but its quant state has no " + key);
                }
            }
            long nestedBlocksize = integer(f, weight, json, "nested_blocksize");
            if (nestedBlocksize != NESTED_BLOCKSIZE) {
                throw bad(Reason.QUANT_STATE_INVALID, f, weight, "nested_blocksize " + nestedBlocksize + " is not the " + NESTED_BLOCKSIZE
                        + " that bitsandbytes double-quantizes with");
            }
            String nestedDtype = text(f, weight, json, "nested_dtype");
            if (!nestedDtype.equals("float32")) {
                throw bad(Reason.QUANT_STATE_INVALID, f, weight, "nested_dtype '" + nestedDtype + "' is not float32");
            }
            JsonNode o = json.get("nested_offset");
            if (!o.isNumber() || !Double.isFinite(o.doubleValue())) {
                throw bad(Reason.QUANT_STATE_INVALID, f, weight, "nested_offset " + o + " is not a finite number");
            }
            // bitsandbytes: torch.tensor(float(nested_offset)), a float32 rounded from the double
            offset = (float) o.doubleValue();
            long nestedBlocks = (blocks + NESTED_BLOCKSIZE - 1) / NESTED_BLOCKSIZE;
            expect(f, weight, nestedAbsmax, DType.F32, nestedBlocks, "one float32 per " + NESTED_BLOCKSIZE + " absmax codes");
            expect(f, weight, nestedQuantMap, DType.F32, 256, "the 256 values of the 8-bit map");
        } else if (nestedFields) {
            throw bad(Reason.QUANT_TENSOR_MISSING, f, weight, "quant state has nested fields but there is no " + weight + ".nested_absmax");
        }
        checkQuantMap(f, weight, type, quantMap);
        return new Bnb4bitWeight(weight, new QuantState(type, blocksize, dtype, shape, dq, offset), packed, absmax, quantMap,
                nestedAbsmax, nestedQuantMap, state);
    }

    private static void checkQuantMap(SafetensorsFile f, String weight, QuantType type, TensorInfo quantMap) {
        float[] values = readF32(f, weight, quantMap);
        for (int i = 0; i < 16; i++) {
            if (!(values[i] == type.value(i))) {
                throw bad(Reason.QUANT_TENSOR_MISMATCH, f, weight, quantMap.name() + " is not bitsandbytes' " + type.id() + " code book (code " + i
                        + " is " + values[i] + ", expected " + type.value(i) + "); bitsandbytes decodes with its"
                        + " built-in table, so the stored map must equal it");
            }
        }
    }

    static float[] readF32(SafetensorsFile f, String weight, TensorInfo t) {
        ByteBuffer buf = ByteBuffer.allocate((int) t.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        try {
            f.read(t, 0, buf);
        } catch (IOException e) {
            throw bad(Reason.FILE_UNREADABLE, f, weight, "cannot read " + t.name() + " (" + e.getMessage() + ")");
        }
        float[] out = new float[(int) t.elements()];
        buf.flip().asFloatBuffer().get(out);
        return out;
    }

    private static JsonNode parseState(SafetensorsFile f, String weight, TensorInfo state) {
        if (state.dtype() != DType.U8) {
            throw bad(Reason.QUANT_STATE_INVALID, f, weight, state.name() + " is " + state.dtype() + ", not the U8 bytes of a JSON object");
        }
        if (state.byteSize() > MAX_STATE_BYTES) {
            throw bad(Reason.QUANT_STATE_INVALID, f, weight, state.name() + " is " + state.byteSize() + " bytes, too long for a quant state");
        }
        ByteBuffer buf = ByteBuffer.allocate((int) state.byteSize());
        try {
            f.read(state, 0, buf);
        } catch (IOException e) {
            throw bad(Reason.FILE_UNREADABLE, f, weight, "cannot read " + state.name() + " (" + e.getMessage() + ")");
        }
        JsonNode json;
        try {
            json = JSON.readTree(buf.array());
        } catch (IOException e) {
            throw bad(Reason.QUANT_STATE_INVALID, f, weight, "quant state is not valid JSON (" + firstLine(e.getMessage()) + ")");
        }
        if (json == null || !json.isObject()) {
            throw bad(Reason.QUANT_STATE_INVALID, f, weight, "quant state is not a JSON object");
        }
        return json;
    }

    private static TensorInfo require(SafetensorsFile f, String weight, String suffix) {
        TensorInfo t = f.header().tensor(weight + suffix);
        if (t == null) {
            throw bad(Reason.QUANT_TENSOR_MISSING, f, weight, "has a quant state but no " + weight + suffix);
        }
        return t;
    }

    private static void expect(SafetensorsFile f, String weight, TensorInfo t, DType dtype, long elements, String what) {
        if (t.dtype() != dtype || t.elements() != elements) {
            throw bad(Reason.QUANT_TENSOR_MISMATCH, f, weight, t.name() + " is " + t.dtype() + Arrays.toString(t.shape()) + " but should hold "
                    + elements + " " + dtype + " values (" + what + ")");
        }
    }

    private static String text(SafetensorsFile f, String weight, JsonNode json, String key) {
        JsonNode v = json.get(key);
        if (v == null || !v.isTextual()) {
            throw bad(Reason.QUANT_STATE_INVALID, f, weight, "quant state " + (v == null ? "has no " + key : key + " " + v + " is not a string"));
        }
        return v.textValue();
    }

    private static long integer(SafetensorsFile f, String weight, JsonNode json, String key) {
        JsonNode v = json.get(key);
        if (v == null || !v.isIntegralNumber() || !v.canConvertToLong()) {
            throw bad(Reason.QUANT_STATE_INVALID, f, weight, "quant state " + (v == null ? "has no " + key : key + " " + v + " is not an integer"));
        }
        return v.longValue();
    }

    private static long[] shape(SafetensorsFile f, String weight, JsonNode json) {
        JsonNode v = json.get("shape");
        if (v == null || !v.isArray() || v.size() > SafetensorsHeader.MAX_RANK) {
            throw bad(Reason.QUANT_STATE_INVALID, f, weight, "quant state " + (v == null ? "has no shape" : "shape " + v + " is not a list of sizes"));
        }
        long[] shape = new long[v.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = v.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0) {
                throw bad(Reason.QUANT_STATE_INVALID, f, weight, "quant state shape " + v + " is not a list of sizes");
            }
            shape[i] = d.longValue();
        }
        return shape;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unreadable";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    static QuantflowException bad(Reason reason, SafetensorsFile f, String weight, String message) {
        return QuantflowException.of(reason, f.path().getFileName() + ": 4-bit weight " + weight + ": " + message);
    }

    @Override
    public String toString() {
        return name + " " + state;
    }
}
