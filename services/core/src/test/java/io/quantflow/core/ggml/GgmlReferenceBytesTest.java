package io.quantflow.core.ggml;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Both quantizer paths give ggml's own bytes: the references under {@code src/test/resources/ggml} were written by
 * llama.cpp's {@code ggml_quantize_chunk} (libggml-base, default Release build, no importance matrix: what
 * {@code llama-quantize} runs) from the inputs in {@code inputs.f32.gz}, by {@code scripts/reference/ggml_refs.sh}.
 * The inputs are named cases of awkward values (zeros, constants, huge, tiny, subnormal, exact grids that tie,
 * outliers, ...) and 256 super-blocks of random distributions; {@code specials.f32.gz} holds bit patterns for the
 * 16-bit float conversions (NaN payloads, infinities, rounding ties). A mismatch names the case and the block.
 */
class GgmlReferenceBytesTest {
    enum Type {
        F16(GgmlType.F16, "f16"), BF16(GgmlType.BF16, "bf16"), Q8_0(GgmlType.Q8_0, "q8_0"), Q4_0(GgmlType.Q4_0, "q4_0"),
        Q5_0(GgmlType.Q5_0, "q5_0"), Q5_1(GgmlType.Q5_1, "q5_1"),
        Q4_K(GgmlType.Q4_K, "q4_K"), Q5_K(GgmlType.Q5_K, "q5_K"), Q6_K(GgmlType.Q6_K, "q6_K");

        final GgmlType type;
        final String file;

        Type(GgmlType type, String file) {
            this.type = type;
            this.file = file;
        }
    }

    record Case(String name, int first, int count) {
    }

    static float[] inputs;
    static float[] specials;
    static List<Case> cases;

    @BeforeAll
    static void load() throws IOException {
        inputs = floats(gunzip("inputs.f32.gz"));
        specials = floats(gunzip("specials.f32.gz"));
        cases = new ArrayList<>();
        for (String line : new String(resource("cases.txt"), StandardCharsets.UTF_8).split("\n")) {
            if (!line.isBlank()) {
                String[] p = line.trim().split(" ");
                cases.add(new Case(p[0], Integer.parseInt(p[1]), Integer.parseInt(p[2])));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Type.class)
    void scalarReferenceGivesGgmlBytes(Type t) throws IOException {
        byte[] expected = gunzip(t.file + ".bin.gz");
        assertSame(t.type, expected, quantize(t.type, inputs, 7, 3, true), "scalar");
    }

    @ParameterizedTest
    @EnumSource(Type.class)
    void fastPathGivesGgmlBytes(Type t) throws IOException {
        byte[] expected = gunzip(t.file + ".bin.gz");
        assertSame(t.type, expected, quantize(t.type, inputs, 1, 5, false), GgmlQuantizers.implementation());
    }

    @ParameterizedTest
    @EnumSource(value = Type.class, names = {"F16", "BF16"})
    void floatConversionsGiveGgmlBitsOnSpecialValues(Type t) throws IOException {
        byte[] expected = gunzip("specials." + t.file + ".bin.gz");
        byte[] actual = quantize(t.type, specials, 0, 0, false);
        for (int i = 0; i < specials.length; i++) {
            if (expected[2 * i] != actual[2 * i] || expected[2 * i + 1] != actual[2 * i + 1]) {
                fail(String.format(Locale.ROOT, "%s of bits 0x%08x: ggml 0x%02x%02x, quantflow 0x%02x%02x", t,
                        Float.floatToRawIntBits(specials[i]), expected[2 * i + 1], expected[2 * i], actual[2 * i + 1],
                        actual[2 * i]));
            }
        }
    }

    /** What ggml's dequantize_row_* (to_float) makes of the blocks of the first 16384 values, bit for bit. */
    @ParameterizedTest
    @EnumSource(Type.class)
    void dequantizeGivesGgmlFloats(Type t) throws IOException {
        float[] expected = floats(gunzip(t.file + ".deq.f32.gz"));
        assertEquals(16384, expected.length);
        byte[] blocks = gunzip(t.file + ".bin.gz");
        float[] actual = new float[3 + expected.length];
        GgmlQuantizers.dequantize(t.type, blocks, 0, expected.length, actual, 3);
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[3 + i])) {
                fail(t + " value " + i + " (" + caseOf(i) + "): ggml " + expected[i] + ", quantflow " + actual[3 + i]);
            }
        }
    }

    /** Quantizes all inputs at a source and destination offset, in rows of 256 values as llama-quantize does. */
    static byte[] quantize(GgmlType type, float[] values, int srcOff, int dstOff, boolean scalar) {
        float[] src = new float[srcOff + values.length];
        System.arraycopy(values, 0, src, srcOff, values.length);
        int rowBytes = (int) type.rowBytes(256);
        byte[] dst = new byte[dstOff + (int) type.rowBytes(values.length)];
        Arrays.fill(dst, (byte) 0x5A);
        for (int r = 0; r < values.length / 256; r++) {
            if (scalar) {
                GgmlQuantizers.quantizeScalar(type, src, srcOff + 256 * r, 256, dst, dstOff + rowBytes * r);
            } else {
                GgmlQuantizers.quantize(type, src, srcOff + 256 * r, 256, dst, dstOff + rowBytes * r);
            }
        }
        return Arrays.copyOfRange(dst, dstOff, dst.length);
    }

    static void assertSame(GgmlType type, byte[] expected, byte[] actual, String path) {
        assertEquals(expected.length, actual.length, "bytes of " + type);
        int bs = type.typeSize();
        int differing = 0;
        String first = null;
        for (int b = 0; b < expected.length / bs; b++) {
            if (!Arrays.equals(expected, b * bs, (b + 1) * bs, actual, b * bs, (b + 1) * bs)) {
                differing++;
                if (first == null) {
                    first = "block " + b + " of case " + caseOf(b * type.blockSize()) + ": ggml "
                            + hex(expected, b * bs, bs) + ", quantflow " + hex(actual, b * bs, bs);
                }
            }
        }
        if (differing > 0) {
            fail(path + " " + type + ": " + differing + " of " + expected.length / bs + " blocks differ from ggml's; first "
                    + first);
        }
    }

    static String caseOf(int value) {
        for (Case c : cases) {
            if (value >= c.first && value < c.first + c.count) {
                return c.name + " (value " + (value - c.first) + ")";
            }
        }
        return "?";
    }

    static String hex(byte[] b, int off, int len) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < len; i++) {
            s.append(String.format(Locale.ROOT, "%02x", b[off + i]));
        }
        return s.toString();
    }

    static float[] floats(byte[] bytes) {
        float[] f = new float[bytes.length / 4];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return f;
    }

    static byte[] resource(String name) throws IOException {
        try (InputStream in = GgmlReferenceBytesTest.class.getResourceAsStream("/ggml/" + name)) {
            if (in == null) {
                throw new IOException("missing test resource ggml/" + name);
            }
            return in.readAllBytes();
        }
    }

    static byte[] gunzip(String name) throws IOException {
        try (InputStream in = new GZIPInputStream(new java.io.ByteArrayInputStream(resource(name)))) {
            return in.readAllBytes();
        }
    }
}
