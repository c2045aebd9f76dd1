package io.quantflow.core.quant;

import io.quantflow.core.Fixtures;
import io.quantflow.core.TensorFileBuilder;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.TensorInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static io.quantflow.core.TensorFileBuilder.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Dequantization held bit for bit to what {@code bitsandbytes.functional.dequantize_4bit} made of the
 * golden inputs (fixtures/bnb, the {@code deq} tensors), and to transformers' 4-bit tiny-llama.
 */
class DequantizerTest {
    static final String W = "model.layers.0.mlp.down_proj.weight";
    private static SafetensorsFile golden;

    @BeforeAll
    static void open() {
        golden = SafetensorsFile.open(Fixtures.path("bnb/golden_bnb.safetensors"));
    }

    @AfterAll
    static void close() {
        if (golden != null) {
            golden.close();
        }
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String x : List.of("a", "b", "c")) {
            for (QuantType q : QuantType.values()) {
                for (int dq = 0; dq <= 1; dq++) {
                    for (int bs : new int[] {64, 128}) {
                        out.add(Arguments.of(x, q, dq == 1, bs));
                    }
                }
            }
        }
        return out.stream();
    }

    /** The golden case {@code X.Q.dqD.bsB.} stored as a weight {@code name}, as transformers names the tensors. */
    static TensorFileBuilder goldenWeight(String prefix, String name) {
        TensorFileBuilder b = new TensorFileBuilder();
        for (TensorInfo t : golden.header().tensors()) {
            if (!t.name().startsWith(prefix) || t.name().equals(prefix + "deq")) {
                continue;
            }
            String suffix = t.name().substring(prefix.length());
            String target = suffix.equals("packed") ? name : name + "." + suffix;
            b.bytes(target, t.dtype(), t.shape(), Fixtures.bytes(golden, t.name()));
        }
        return b;
    }

    @ParameterizedTest(name = "{0} {1} dq={2} bs={3}")
    @MethodSource("cases")
    void matchesBitsandbytesBitForBit(String x, QuantType q, boolean dq, int bs, @TempDir Path dir) throws IOException {
        String prefix = x + "." + q.id() + ".dq" + (dq ? 1 : 0) + ".bs" + bs + ".";
        TensorInfo input = golden.header().tensor(x);
        TensorInfo deq = golden.header().tensor(prefix + "deq");
        float[] expected = new float[(int) deq.elements()];
        HalfFloats.decode(deq.dtype(), Fixtures.bytes(golden, deq.name()), 0, expected.length, expected, 0);

        Path file = goldenWeight(prefix, W).write(dir.resolve("model.safetensors"));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Map<String, Bnb4bitWeight> found = Bnb4bitWeight.find(f);
            assertEquals(List.of(W), List.copyOf(found.keySet()));
            Bnb4bitWeight w = found.get(W);
            assertEquals(q, w.type());
            assertEquals(bs, w.blocksize());
            assertEquals(dq, w.doubleQuant());
            assertEquals(input.dtype(), w.dtype());
            assertArrayEquals(input.shape(), w.shape());
            assertEquals(expected.length, w.elements());
            if (dq) {
                String json = new String(Fixtures.bytes(golden, prefix + "quant_state.bitsandbytes__" + q.id()), StandardCharsets.US_ASCII);
                String text = json.substring(json.indexOf("\"nested_offset\": ") + 17, json.length() - 1);
                assertEquals((float) Double.parseDouble(text), w.nestedOffset());
            }
            float[] absmax = Dequantizer.absmax(f, w);
            assertEquals(w.blocks(), absmax.length);

            float[] whole = new float[expected.length];
            Dequantizer.dequantize(f, w, absmax, 0, whole.length, whole, 0);
            assertArrayEquals(bits(expected), bits(whole), "whole tensor");

            // in awkward even-aligned chunks that straddle blocks, through the reusable code table
            float[] codes = Dequantizer.codeValues(f, w);
            float[] chunked = new float[expected.length + 3];
            int chunk = 2 * 37 + bs;
            for (long start = 0; start < expected.length; start += chunk) {
                int n = (int) Math.min(chunk, expected.length - start);
                Dequantizer.dequantize(f, w, codes, absmax, start, n, chunked, (int) start + 3);
            }
            float[] got = Arrays.copyOfRange(chunked, 3, chunked.length);
            assertArrayEquals(bits(expected), bits(got), "chunked");
        }
    }

    @Test
    void fp4NegativeZeroKeepsItsSign(@TempDir Path dir) throws IOException {
        // codes 0b1000 (-0) and 0b0000 (+0): bitsandbytes multiplies the magnitude by the sign bit
        TensorFileBuilder b = weight(QuantType.FP4, 64, "float32", shape(4), new byte[] {(byte) 0x80, (byte) 0x08},
                new float[] {0.5f});
        try (SafetensorsFile f = SafetensorsFile.open(b.write(dir.resolve("m.safetensors")))) {
            Bnb4bitWeight w = Bnb4bitWeight.find(f).get("w");
            float[] out = new float[4];
            Dequantizer.dequantize(f, w, Dequantizer.absmax(f, w), 0, 4, out, 0);
            assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(out[0]));
            assertEquals(Float.floatToRawIntBits(0.0f), Float.floatToRawIntBits(out[1]));
            assertEquals(Float.floatToRawIntBits(0.0f), Float.floatToRawIntBits(out[2]));
            assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(out[3]));
        }
    }

    @Test
    void oddCountAndPartialLastBlock(@TempDir Path dir) throws IOException {
        long[] shape = shape(5, 15); // 75 values: blocks of 64 and 11, 38 bytes, the last low nibble unused
        int n = 75;
        byte[] packed = new byte[38];
        int[] codes = new int[n];
        for (int i = 0; i < n; i++) {
            codes[i] = (i * 7 + 3) & 0xF;
            packed[i / 2] |= (byte) ((i & 1) == 0 ? codes[i] << 4 : codes[i]);
        }
        float[] absmax = {0.75f, 0.1234f};
        TensorFileBuilder b = weight(QuantType.NF4, 64, "bfloat16", shape, packed, absmax);
        try (SafetensorsFile f = SafetensorsFile.open(b.write(dir.resolve("m.safetensors")))) {
            Bnb4bitWeight w = Bnb4bitWeight.find(f).get("w");
            assertEquals(2, w.blocks());
            float[] am = Dequantizer.absmax(f, w);
            assertArrayEquals(absmax, am);
            float[] out = new float[n];
            Dequantizer.dequantize(f, w, am, 0, n, out, 0);
            for (int i = 0; i < n; i++) {
                float expected = DtypeEncoding.round(DType.BF16, QuantType.NF4.value(codes[i]) * absmax[i / 64]);
                assertEquals(expected, out[i], "element " + i);
            }
            float[] tail = new float[5];
            Dequantizer.dequantize(f, w, am, 70, 5, tail, 0);
            assertArrayEquals(Arrays.copyOfRange(out, 70, 75), tail);
            assertThrows(IllegalArgumentException.class, () -> Dequantizer.dequantize(f, w, am, 1, 2, new float[2], 0));
            assertThrows(IllegalArgumentException.class, () -> Dequantizer.dequantize(f, w, am, 74, 2, new float[2], 0));
            assertThrows(IllegalArgumentException.class, () -> Dequantizer.dequantize(f, w, new float[1], 0, 2, new float[2], 0));
        }
    }

    @Test
    void tinyLlamaDequantizesCloseToItsSource() throws IOException {
        try (SafetensorsFile base = SafetensorsFile.open(Fixtures.path("tiny-llama/base-bf16/model.safetensors"))) {
            for (String variant : List.of("base-bnb-nf4-dq", "base-bnb-fp4")) {
                try (SafetensorsFile f = SafetensorsFile.open(Fixtures.path("tiny-llama/" + variant + "/model.safetensors"))) {
                    for (Bnb4bitWeight w : Bnb4bitWeight.find(f).values()) {
                        TensorInfo src = base.header().tensor(w.name());
                        float[] original = new float[(int) src.elements()];
                        HalfFloats.decode(DType.BF16, Fixtures.bytes(base, w.name()), 0, original.length, original, 0);
                        float[] absmax = Dequantizer.absmax(f, w);
                        float[] out = new float[original.length];
                        Dequantizer.dequantize(f, w, absmax, 0, out.length, out, 0);
                        double err = 0;
                        double sum = 0;
                        for (int i = 0; i < out.length; i++) {
                            float d = Math.abs(out[i] - original[i]);
                            // half the widest gap between neighbouring codes (fp4: 1/6), plus roundings
                            assertTrue(d <= 0.17f * absmax[i / w.blocksize()], variant + " " + w.name() + "[" + i + "]: "
                                    + out[i] + " vs " + original[i]);
                            assertEquals(out[i], DtypeEncoding.round(DType.BF16, out[i]), "a bf16 value");
                            err += d * (double) d;
                            sum += original[i] * (double) original[i];
                        }
                        assertTrue(Math.sqrt(err / sum) < 0.13, variant + " " + w.name() + " relative rms error " + Math.sqrt(err / sum));
                    }
                }
            }
        }
    }

    @Test
    void roundingToHalfPrecisions() {
        assertEquals(1.0f, DtypeEncoding.round(DType.BF16, Float.intBitsToFloat(0x3F808000))); // tie to even (down)
        assertEquals(Float.intBitsToFloat(0x3F820000), DtypeEncoding.round(DType.BF16, Float.intBitsToFloat(0x3F818000))); // tie up
        assertEquals(Float.intBitsToFloat(0x3F810000), DtypeEncoding.round(DType.BF16, Float.intBitsToFloat(0x3F808001)));
        assertTrue(Float.isNaN(DtypeEncoding.round(DType.BF16, Float.intBitsToFloat(0x7F800001))));
        assertEquals(Float.POSITIVE_INFINITY, DtypeEncoding.round(DType.BF16, Float.MAX_VALUE));
        assertEquals(Float.NEGATIVE_INFINITY, DtypeEncoding.round(DType.F16, -70000f));
        assertEquals(0x1p-24f, DtypeEncoding.round(DType.F16, 0x1.1p-24f));
        assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(DtypeEncoding.round(DType.BF16, -0.0f)));
        assertFalse(DtypeEncoding.round(DType.F32, 0.1f) != 0.1f);
    }

    /** A one-weight file {@code w}: the given packed bytes and float32 absmax, no double quantization. */
    static TensorFileBuilder weight(QuantType q, int bs, String dtype, long[] shape, byte[] packed, float[] absmax) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < shape.length; i++) {
            s.append(i > 0 ? ", " : "").append(shape[i]);
        }
        return new TensorFileBuilder()
                .bytes("w", DType.U8, shape(packed.length, 1), packed)
                .floats("w.absmax", DType.F32, shape(absmax.length), absmax)
                .floats("w.quant_map", DType.F32, shape(16), q.codebook())
                .text("w.quant_state.bitsandbytes__" + q.id(), "{\"quant_type\": \"" + q.id() + "\", \"blocksize\": " + bs
                        + ", \"dtype\": \"" + dtype + "\", \"shape\": [" + s + "]}");
    }

    static int[] bits(float[] f) {
        int[] out = new int[f.length];
        for (int i = 0; i < f.length; i++) {
            out[i] = Float.floatToRawIntBits(f[i]);
        }
        return out;
    }
}
