package io.quantflow.core.quant;

import io.quantflow.core.Fixtures;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.TensorInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Held against what bitsandbytes.functional.quantize_4bit made of three inputs (fixtures/bnb). */
class GoldenBnbTest {
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

    @ParameterizedTest(name = "{0} {1} dq={2} bs={3}")
    @MethodSource("cases")
    void matchesBitsandbytes(String x, QuantType q, boolean dq, int bs) {
        TensorInfo input = golden.header().tensor(x);
        float[] values = new float[(int) input.elements()];
        HalfFloats.decode(input.dtype(), Fixtures.bytes(golden, x), 0, values.length, values, 0);
        String prefix = x + "." + q.id() + ".dq" + (dq ? 1 : 0) + ".bs" + bs + ".";
        int n = values.length;
        int blocks = (n + bs - 1) / bs;

        byte[] expectedPacked = Fixtures.bytes(golden, prefix + "packed");
        for (BlockwiseQuantizer quantizer : List.of(Quantizers.scalar(q), new VectorBlockwiseQuantizer(q))) {
            byte[] packed = new byte[(n + 1) / 2];
            float[] absmax = new float[blocks];
            quantizer.quantize(values, 0, n, bs, packed, 0, absmax, 0);
            // the GPU's approximate reciprocal (BnbReciprocal) makes fp4's ties come out as bitsandbytes' do
            assertArrayEquals(expectedPacked, packed, quantizer.name() + ": " + q.id() + " codes differ from bitsandbytes");
            if (!dq) {
                assertArrayEquals(Fixtures.floats(golden, prefix + "absmax"), absmax, 0f, "absmax");
                assertArrayEquals(
                        ("{\"quant_type\": \"" + q.id() + "\", \"blocksize\": " + bs + ", \"dtype\": \""
                                + input.dtype().torchName() + "\", \"shape\": " + shapeText(input) + "}")
                                .getBytes(StandardCharsets.US_ASCII),
                        Fixtures.bytes(golden, prefix + "quant_state.bitsandbytes__" + q.id()));
                assertArrayEquals(Fixtures.bytes(golden, prefix + "quant_state.bitsandbytes__" + q.id()),
                        new QuantState(q, bs, input.dtype(), input.shape(), false, 0f).toJson());
            } else {
                checkDoubleQuant(golden, prefix, q, bs, input, absmax);
            }
        }
        assertArrayEquals(bits(Fixtures.floats(golden, prefix + "quant_map")), bits(q.codebook()), "quant_map");
    }

    private static void checkDoubleQuant(SafetensorsFile f, String prefix, QuantType q, int bs, TensorInfo input, float[] absmax) {
        DoubleQuantizer.Result r = DoubleQuantizer.quantize(absmax, absmax.length);
        byte[] stateJson = Fixtures.bytes(f, prefix + "quant_state.bitsandbytes__" + q.id());
        String state = new String(stateJson, StandardCharsets.US_ASCII);
        float theirOffset = Float.parseFloat(state.substring(state.indexOf("\"nested_offset\": ") + 17, state.length() - 1));
        assertEquals(theirOffset, r.offset(), Math.abs(theirOffset) * 1e-6f, "nested_offset");
        assertArrayEquals(bits(Fixtures.floats(f, prefix + "nested_quant_map")), bits(DynamicMap.signed()), "nested_quant_map");
        byte[] theirCodes = Fixtures.bytes(f, prefix + "absmax");
        float[] theirNested = Fixtures.floats(f, prefix + "nested_absmax");
        if (Float.floatToIntBits(theirOffset) == Float.floatToIntBits(r.offset())) {
            assertArrayEquals(theirCodes, r.codes(), "absmax codes");
            assertArrayEquals(theirNested, r.nestedAbsmax(), 0f, "nested_absmax");
            assertArrayEquals(stateJson, new QuantState(q, bs, input.dtype(), input.shape(), true, r.offset()).toJson());
        } else {
            // the offset's last bit follows the GPU's order of summation: redo the codes with theirs
            DoubleQuantizer.Result same = DoubleQuantizer.quantizeWithOffset(absmax, absmax.length, theirOffset);
            assertArrayEquals(theirCodes, same.codes(), "absmax codes with bitsandbytes' offset");
            assertArrayEquals(theirNested, same.nestedAbsmax(), 0f, "nested_absmax with bitsandbytes' offset");
            assertArrayEquals(stateJson, new QuantState(q, bs, input.dtype(), input.shape(), true, theirOffset).toJson());
        }
    }

    private static String shapeText(TensorInfo t) {
        StringBuilder sb = new StringBuilder("[");
        long[] s = t.shape();
        for (int i = 0; i < s.length; i++) {
            sb.append(i > 0 ? ", " : "").append(s[i]);
        }
        return sb.append(']').toString();
    }

    static int[] bits(float[] f) {
        int[] out = new int[f.length];
        for (int i = 0; i < f.length; i++) {
            out[i] = Float.floatToRawIntBits(f[i]);
        }
        return out;
    }

}
