package io.quantflow.core.safetensors;

import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A corpus of hostile safetensors files. Each must be refused with {@code INVALID_CHECKPOINT}, the
 * {@link Reason} of its problem and a message that names the file (and the tensor or length at fault),
 * before anything is sized from an untrusted number: a claimed header length of 2^62 or a shape whose
 * element count overflows must never turn into an allocation (the test JVM has a 2 GB heap; such an
 * allocation would fail the case with an error other than {@link QuantflowException}).
 */
class MalformedSafetensorsTest {
    private static final String FILE = "hostile.safetensors";

    @TempDir
    Path dir;

    /** One hostile file: what it is, its bytes, why it is refused, and what the refusal names (a tensor, a length), or null. */
    record Case(String name, byte[] bytes, Reason reason, String names) {
        Case(String name, byte[] bytes, Reason reason) {
            this(name, bytes, reason, null);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    static List<Case> corpus() {
        List<Case> c = new ArrayList<>();
        // --- the 8-byte length prefix
        c.add(new Case("empty file", new byte[0], Reason.FILE_TOO_SHORT));
        c.add(new Case("shorter than 8 bytes", new byte[] {2, 0, 0, 0, 0}, Reason.FILE_TOO_SHORT));
        c.add(new Case("exactly the prefix, header length 0", lengthOnly(0), Reason.HEADER_MALFORMED));
        c.add(new Case("header length past end of file", concat(lengthOnly(100), utf8("{}        ")), Reason.FILE_TOO_SHORT, "100"));
        c.add(new Case("header length 1 (a lone '{')", concat(lengthOnly(1), utf8("{")), Reason.HEADER_MALFORMED));
        c.add(new Case("header length just over the 100 MB cap", concat(lengthOnly(100_000_001L), utf8("{}      ")), Reason.HEADER_TOO_LARGE, "100000001"));
        c.add(new Case("header length 2^62", concat(lengthOnly(1L << 62), utf8("{}      ")), Reason.HEADER_TOO_LARGE, "4611686018427387904"));
        c.add(new Case("header length 2^63 (negative as a signed long)", concat(lengthOnly(Long.MIN_VALUE), utf8("{}      ")), Reason.HEADER_TOO_LARGE, "9223372036854775808"));
        c.add(new Case("header length 2^64-1 (-1 as a signed long)", concat(lengthOnly(-1L), utf8("{}      ")), Reason.HEADER_TOO_LARGE, "18446744073709551615"));

        // --- the header text
        c.add(new Case("header is a JSON array", file("[]", 0), Reason.HEADER_MALFORMED));
        c.add(new Case("header starts with a space", file(" {}", 0), Reason.HEADER_MALFORMED));
        c.add(new Case("header is all spaces", file("        ", 0), Reason.HEADER_MALFORMED));
        c.add(new Case("header starts with a UTF-8 byte order mark", file("\uFEFF{}", 0), Reason.HEADER_MALFORMED));
        c.add(new Case("invalid UTF-8 (0xFF) in a name", fileBytes(concat(utf8("{\"a"), new byte[] {(byte) 0xFF},
                utf8("\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}")), 1), Reason.HEADER_MALFORMED));
        c.add(new Case("invalid UTF-8 (encoded surrogate)", fileBytes(concat(utf8("{\"a"), new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80},
                utf8("\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}")), 1), Reason.HEADER_MALFORMED));
        c.add(new Case("invalid UTF-8 (overlong '/')", fileBytes(concat(utf8("{\"a"), new byte[] {(byte) 0xC0, (byte) 0xAF},
                utf8("\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}")), 1), Reason.HEADER_MALFORMED));
        c.add(new Case("invalid UTF-8 (truncated sequence at the end)", fileBytes(concat(utf8("{}"), new byte[] {(byte) 0xE2, (byte) 0x82}), 0), Reason.HEADER_MALFORMED));
        c.add(new Case("invalid JSON: cut off", file("{\"a\":", 0), Reason.HEADER_MALFORMED));
        c.add(new Case("invalid JSON: missing colon", file("{\"a\" {}}", 0), Reason.HEADER_MALFORMED));
        c.add(new Case("invalid JSON: single quotes", file("{'a':{}}", 0), Reason.HEADER_MALFORMED));
        c.add(new Case("invalid JSON: trailing comma", file(tensorJson("a", "U8", "[1]", 0, 1) + ",}", 1), Reason.HEADER_MALFORMED));
        c.add(new Case("invalid JSON: NUL padding", fileBytes(concat(utf8("{}"), new byte[6]), 0), Reason.HEADER_MALFORMED));
        // refused at the first token that cannot be a tensor entry: depth never builds up
        c.add(new Case("nesting bomb", file("{\"a\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}", 0), Reason.TENSOR_ENTRY_MALFORMED, "'a'"));
        c.add(new Case("nesting bomb in __metadata__", file("{\"__metadata__\":{\"k\":" + "{".repeat(100_000) + "}".repeat(100_000) + "}}", 0), Reason.METADATA_MALFORMED, "'k'"));
        c.add(new Case("trailing object after the header", file("{}{}", 0), Reason.HEADER_MALFORMED));
        c.add(new Case("trailing garbage after the header", file("{}x", 0), Reason.HEADER_MALFORMED));
        c.add(new Case("trailing number after the header", file("{} 12", 0), Reason.HEADER_MALFORMED));
        c.add(new Case("header is a tensor list, not an object of tensors",
                file("{\"a\":[{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}]}", 1), Reason.TENSOR_ENTRY_MALFORMED, "'a'"));

        // --- dtype, fields
        c.add(new Case("unknown dtype", file(header(t("w", "F128", "[2]", 0, 32)), 32), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("dtype in lower case", file(header(t("w", "f32", "[2]", 0, 8)), 8), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("dtype is a number", file("{\"w\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("missing data_offsets", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("missing shape", file("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("missing dtype", file("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("extra unknown field", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"stride\":[1]}}", 8), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("duplicate field inside a tensor", file("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("__metadata__ value is a number", file("{\"__metadata__\":{\"format\":1}}", 0), Reason.METADATA_MALFORMED, "'format'"));
        c.add(new Case("__metadata__ is an array", file("{\"__metadata__\":[]}", 0), Reason.METADATA_MALFORMED));
        c.add(new Case("duplicate key inside __metadata__", file("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0), Reason.METADATA_MALFORMED, "'k'"));
        c.add(new Case("__metadata__ twice", file("{\"__metadata__\":{},\"__metadata__\":{}}", 0), Reason.METADATA_MALFORMED));

        // --- shapes
        c.add(new Case("negative shape entry", file(header(t("w", "F32", "[-2,2]", 0, 16)), 16), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("shape with a fraction", file(header(t("w", "F32", "[2.5]", 0, 10)), 10), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("shape with an exponent", file(header(t("w", "F32", "[1e1]", 0, 40)), 40), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("shape with a string", file(header(t("w", "F32", "[\"2\"]", 0, 8)), 8), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("shape with null", file(header(t("w", "F32", "[null]", 0, 0)), 0), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("shape is a number", file(header(t("w", "F32", "2", 0, 8)), 8), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("shape entry beyond 64 bits", file(header(t("w", "U8", "[18446744073709551616]", 0, 1)), 1), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("shape of rank 65", file(header(t("w", "U8", "[" + "1,".repeat(64) + "1]", 0, 1)), 1), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("shape product overflows", file(header(t("w", "F32", "[4294967296,4294967296,16]", 0, 16)), 16), Reason.TENSOR_SIZE_INVALID, "'w'"));
        c.add(new Case("shape product overflows late (zero after it does not save it)",
                file(header(t("w", "U8", "[4294967296,4294967296,0]", 0, 0)), 0), Reason.TENSOR_SIZE_INVALID, "'w'"));
        c.add(new Case("element count fits but bytes overflow", file(header(t("w", "F64", "[2305843009213693952]", 0, 8)), 8), Reason.TENSOR_SIZE_INVALID, "'w'"));
        c.add(new Case("huge tensor claimed, consistent offsets, tiny file",
                file(header(t("w", "F32", "[100000,100000,100000]", 0, 4_000_000_000_000_000L)), 16), Reason.DATA_SECTION_INVALID));
        c.add(new Case("byte count is not elements x dtype size", file(header(t("w", "F32", "[2,2]", 0, 12)), 12), Reason.TENSOR_SIZE_INVALID, "'w'"));
        c.add(new Case("byte count of a bf16 tensor counted as f32", file(header(t("w", "BF16", "[4]", 0, 16)), 16), Reason.TENSOR_SIZE_INVALID, "'w'"));
        c.add(new Case("scalar with no bytes", file(header(t("w", "F32", "[]", 0, 0)), 0), Reason.TENSOR_SIZE_INVALID, "'w'"));

        // --- offsets
        c.add(new Case("data_offsets with one number", file("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1]}}", 1), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("data_offsets with three numbers", file("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 2), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("negative data offset", file(header(t("w", "U8", "[1]", -1, 0)), 1), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("begin > end", file(header(t("w", "U8", "[8]", 16, 8)), 16), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));
        c.add(new Case("first tensor does not start at 0", file(header(t("w", "U8", "[8]", 8, 16)), 16), Reason.DATA_SECTION_INVALID, "'w'"));
        c.add(new Case("overlapping offsets", file(header(t("a", "F32", "[4]", 0, 16), t("b", "F32", "[4]", 8, 24)), 24), Reason.DATA_SECTION_INVALID, "'b'"));
        c.add(new Case("two tensors on the same bytes", file(header(t("a", "F32", "[4]", 0, 16), t("b", "I32", "[4]", 0, 16)), 16), Reason.DATA_SECTION_INVALID));
        c.add(new Case("gap between tensors", file(header(t("a", "F32", "[4]", 0, 16), t("b", "F32", "[4]", 20, 36)), 36), Reason.DATA_SECTION_INVALID, "'b'"));
        c.add(new Case("data past end of file", file(header(t("a", "F32", "[4]", 0, 16)), 8), Reason.DATA_SECTION_INVALID));
        c.add(new Case("extra bytes after the last tensor", file(header(t("a", "F32", "[4]", 0, 16)), 20), Reason.DATA_SECTION_INVALID));
        c.add(new Case("data but no tensors", file("{}", 4), Reason.DATA_SECTION_INVALID));
        c.add(new Case("offset beyond 64 bits", file(header(t("w", "U8", "[1]", 0, 1).replace("[0,1]", "[0,18446744073709551617]")), 1), Reason.TENSOR_ENTRY_MALFORMED, "'w'"));

        // --- names
        c.add(new Case("duplicate tensor names", file(header(t("a", "F32", "[1]", 0, 4), t("a", "F32", "[1]", 4, 8)), 8), Reason.TENSOR_NAME_INVALID, "'a'"));
        c.add(new Case("empty tensor name", file(header(t("", "U8", "[1]", 0, 1)), 1), Reason.TENSOR_NAME_INVALID));
        c.add(new Case("name longer than 4096 characters", file(header(t("w".repeat(4097), "U8", "[1]", 0, 1)), 1), Reason.TENSOR_NAME_INVALID));
        for (String name : List.of("../x", "a/../../x", "/abs", "/etc/passwd", "a//b", "..")) {
            c.add(new Case("path-like name " + name, file(header(t(name, "U8", "[1]", 0, 1)), 1), Reason.TENSOR_NAME_INVALID));
        }
        c.add(new Case("path-like name written with JSON escapes",
                file("{\"\\u002e\\u002e/x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1), Reason.TENSOR_NAME_INVALID, "'../x'"));
        c.add(new Case("backslash in name", file(header(t("a\\\\b", "U8", "[1]", 0, 1)), 1), Reason.TENSOR_NAME_INVALID));
        c.add(new Case("windows drive path", file(header(t("C:\\\\x", "U8", "[1]", 0, 1)), 1), Reason.TENSOR_NAME_INVALID));
        c.add(new Case("NUL in name", file(header(t("a\\u0000b", "U8", "[1]", 0, 1)), 1), Reason.TENSOR_NAME_INVALID));
        c.add(new Case("newline in name", file(header(t("a\\nb", "U8", "[1]", 0, 1)), 1), Reason.TENSOR_NAME_INVALID));
        c.add(new Case("escape sequence in name", file(header(t("a\\u001b[31mb", "U8", "[1]", 0, 1)), 1), Reason.TENSOR_NAME_INVALID));
        c.add(new Case("DEL in name", file(header(t("a\u007fb", "U8", "[1]", 0, 1)), 1), Reason.TENSOR_NAME_INVALID));
        c.add(new Case("raw control character in a JSON string", file(header(t("a\u0001b", "U8", "[1]", 0, 1)), 1), Reason.HEADER_MALFORMED));
        return c;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corpus")
    void refusedAsInvalidCheckpoint(Case c) throws IOException {
        Path p = dir.resolve(FILE);
        Files.write(p, c.bytes());
        QuantflowException e = assertThrows(QuantflowException.class, () -> {
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                fail(c.name() + ": opened, with tensors " + f.header().tensors());
            }
        });
        assertEquals(ErrorCode.INVALID_CHECKPOINT, e.code(), e.getMessage());
        assertEquals(c.reason(), e.reason(), e.getMessage());
        assertNotNull(e.getMessage());
        assertTrue(e.getMessage().startsWith(FILE + ": "), "message names the file: " + e.getMessage());
        if (c.names() != null) {
            assertTrue(e.getMessage().contains(c.names()),
                    "message names what is wrong: expected it to contain <" + c.names() + "> but was <" + e.getMessage() + ">");
        }
        assertFalse(e.oneLine().contains("\n"), "one line");
        // the file is closed again: it can be deleted and rewritten (and on Windows, would not stay locked)
        Files.delete(p);
    }

    @Test
    void missingFileIsSourceNotFound() {
        QuantflowException e = assertThrows(QuantflowException.class, () -> SafetensorsFile.open(dir.resolve("absent.safetensors")));
        assertEquals(ErrorCode.SOURCE_NOT_FOUND, e.code());
        assertEquals(Reason.NO_SUCH_FILE, e.reason());
    }

    @Test
    void directoryIsNotACheckpoint() {
        QuantflowException e = assertThrows(QuantflowException.class, () -> SafetensorsFile.open(dir));
        assertTrue(e.code() == ErrorCode.SOURCE_NOT_FOUND || e.code() == ErrorCode.INVALID_CHECKPOINT, e.code() + ": " + e.getMessage());
    }

    // ---------------------------------------------------------------- files that must open

    @Test
    void emptyHeaderPaddedAsTheReferenceWriterDoes() throws IOException {
        // what safetensors.torch.save_file({}) writes: "{}" padded with six spaces
        byte[] bytes = concat(lengthOnly(8), utf8("{}      "));
        try (SafetensorsFile f = open(bytes)) {
            assertTrue(f.header().tensors().isEmpty());
            assertTrue(f.header().metadata().isEmpty());
            assertEquals(0, f.header().dataLength());
            assertEquals(16, f.dataStart());
        }
    }

    @Test
    void metadataOnly() throws IOException {
        try (SafetensorsFile f = open(file("{\"__metadata__\":{\"format\":\"pt\",\"note\":\"caf\\u00e9\"}}", 0))) {
            assertEquals(Map.of("format", "pt", "note", "caf\u00e9"), f.header().metadata());
            assertTrue(f.header().tensors().isEmpty());
        }
    }

    @Test
    void zeroElementTensorsAnywhere() throws IOException {
        String h = header(
                t("a", "F32", "[2]", 0, 8),
                t("empty.mid", "F32", "[0,4]", 8, 8),
                t("b", "BF16", "[3]", 8, 14),
                t("empty.end", "I64", "[7,0]", 14, 14));
        try (SafetensorsFile f = open(file(h, 14))) {
            TensorInfo mid = f.header().tensor("empty.mid");
            assertEquals(new TensorInfo("empty.mid", DType.F32, new long[] {0, 4}, 8, 8), mid);
            assertEquals(0, mid.elements());
            assertEquals(0, mid.byteSize());
            TensorInfo end = f.header().tensor("empty.end");
            assertEquals(0, end.elements());
            assertEquals(14, end.begin());
            assertEquals(14, f.header().dataLength());
            assertEquals(List.of("a", "empty.mid", "b", "empty.end"), names(f));
            ByteBuffer none = ByteBuffer.allocate(0);
            f.read(mid, 0, none);
        }
    }

    @Test
    void scalarTensor() throws IOException {
        byte[] data = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(3.25f).array();
        try (SafetensorsFile f = open(fileBytes(utf8(header(t("s", "F32", "[]", 0, 4))), data))) {
            TensorInfo s = f.header().tensor("s");
            assertEquals(0, s.rank());
            assertArrayEquals(new long[0], s.shape());
            assertEquals(1, s.elements());
            assertEquals(4, s.byteSize());
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            f.read(s, 0, b);
            assertEquals(3.25f, b.getFloat(0));
        }
    }

    @Test
    void dotsInsideANameAreNotAPath() throws IOException {
        try (SafetensorsFile f = open(file(header(t("a..b", "U8", "[1]", 0, 1), t("x/y.z", "U8", "[1]", 1, 2)), 2))) {
            assertEquals(2, f.header().tensors().size());
        }
    }

    @Test
    void passthroughDtypesOpenWithTheirSizes() throws IOException {
        // listed out of offset order on purpose: the reader orders by offset
        String h = header(
                t("flags", "BOOL", "[3]", 56, 59),
                t("ids", "I64", "[2,2]", 0, 32),
                t("bytes", "U8", "[5]", 59, 64),
                t("dbl", "F64", "[3]", 32, 56),
                t("f8", "F8_E4M3", "[2]", 64, 66),
                t("u16", "U16", "[1]", 66, 68));
        byte[] data = new byte[68];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 7 + 1);
        }
        try (SafetensorsFile f = open(fileBytes(utf8(h), data))) {
            SafetensorsHeader hd = f.header();
            assertEquals(List.of("ids", "dbl", "flags", "bytes", "f8", "u16"), names(f));
            assertEquals(new TensorInfo("ids", DType.I64, new long[] {2, 2}, 0, 32), hd.tensor("ids"));
            assertEquals(new TensorInfo("dbl", DType.F64, new long[] {3}, 32, 56), hd.tensor("dbl"));
            assertEquals(new TensorInfo("flags", DType.BOOL, new long[] {3}, 56, 59), hd.tensor("flags"));
            assertEquals(new TensorInfo("bytes", DType.U8, new long[] {5}, 59, 64), hd.tensor("bytes"));
            assertEquals(new TensorInfo("f8", DType.F8_E4M3, new long[] {2}, 64, 66), hd.tensor("f8"));
            assertEquals(new TensorInfo("u16", DType.U16, new long[] {1}, 66, 68), hd.tensor("u16"));
            assertEquals(4, hd.tensor("ids").elements());
            assertEquals(68, hd.dataLength());
            assertFalse(hd.tensor("ids").dtype().isDecodedFloat());
            assertTrue(hd.contains("bytes"));
            assertFalse(hd.contains("absent"));
            // bytes come back from the right place
            ByteBuffer b = ByteBuffer.allocate(5);
            f.read(hd.tensor("bytes"), 0, b);
            for (int i = 0; i < 5; i++) {
                assertEquals(data[59 + i], b.get(i));
            }
            ByteBuffer tail = ByteBuffer.allocate(2);
            f.read(hd.tensor("dbl"), 22, tail);
            assertEquals(data[54], tail.get(0));
            assertEquals(data[55], tail.get(1));
            assertThrows(IllegalArgumentException.class, () -> f.read(hd.tensor("dbl"), 23, ByteBuffer.allocate(2)));
            assertThrows(IllegalArgumentException.class, () -> f.read(hd.tensor("dbl"), -1, ByteBuffer.allocate(1)));
        }
    }

    @Test
    void everyDtypeNameIsAccepted() throws IOException {
        StringBuilder sb = new StringBuilder("{");
        long off = 0;
        for (DType d : DType.values()) {
            if (off > 0) {
                sb.append(',');
            }
            sb.append(t("t." + d.name(), d.name(), "[3]", off, off + 3L * d.size()));
            off += 3L * d.size();
        }
        sb.append('}');
        try (SafetensorsFile f = open(file(sb.toString(), (int) off))) {
            for (DType d : DType.values()) {
                assertEquals(d, f.header().tensor("t." + d.name()).dtype());
                assertEquals(3L * d.size(), f.header().tensor("t." + d.name()).byteSize());
            }
        }
    }

    @Test
    void whitespaceInsideTheJsonAndNonAsciiNames() throws IOException {
        String h = "{\n  \"__metadata__\" : { \"format\" : \"pt\" } ,\n  \"caf\u00e9.\u03bb\" : { \"shape\" : [ 2 ] , \"data_offsets\" : [ 0 , 2 ] , \"dtype\" : \"U8\" }\n}\n";
        try (SafetensorsFile f = open(file(h, 2))) {
            assertEquals(new TensorInfo("caf\u00e9.\u03bb", DType.U8, new long[] {2}, 0, 2), f.header().tensor("caf\u00e9.\u03bb"));
        }
    }

    // ---------------------------------------------------------------- builders

    private SafetensorsFile open(byte[] bytes) throws IOException {
        Path p = dir.resolve("ok.safetensors");
        Files.deleteIfExists(p);
        Files.write(p, bytes);
        return SafetensorsFile.open(p);
    }

    private static List<String> names(SafetensorsFile f) {
        return f.header().tensors().stream().map(TensorInfo::name).toList();
    }

    /** A tensor entry (without surrounding braces); the name is pasted as is, so escapes may be used. */
    static String t(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    static String tensorJson(String name, String dtype, String shape, long begin, long end) {
        return "{" + t(name, dtype, shape, begin, end);
    }

    static String header(String... tensors) {
        return "{" + String.join(",", tensors) + "}";
    }

    /** A file with the given header text (UTF-8), padded with spaces to a multiple of 8, then {@code dataBytes} bytes. */
    static byte[] file(String header, int dataBytes) {
        return fileBytes(header.getBytes(StandardCharsets.UTF_8), dataBytes);
    }

    static byte[] fileBytes(byte[] header, int dataBytes) {
        byte[] data = new byte[dataBytes];
        for (int i = 0; i < dataBytes; i++) {
            data[i] = (byte) i;
        }
        return fileBytes(header, data);
    }

    static byte[] fileBytes(byte[] header, byte[] data) {
        int pad = (8 - header.length % 8) % 8;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(lengthOnly(header.length + pad));
        out.writeBytes(header);
        for (int i = 0; i < pad; i++) {
            out.write(' ');
        }
        out.writeBytes(data);
        return out.toByteArray();
    }

    static byte[] lengthOnly(long n) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(n).array();
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
