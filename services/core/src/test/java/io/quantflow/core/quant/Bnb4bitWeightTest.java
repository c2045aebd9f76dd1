package io.quantflow.core.quant;

import io.quantflow.core.Fixtures;
import io.quantflow.core.TensorFileBuilder;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.TensorInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;

import static io.quantflow.core.TensorFileBuilder.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Finding and validating the 4-bit weights of a checkpoint: transformers' output, and malformed quant states. */
class Bnb4bitWeightTest {
    static final String W = DequantizerTest.W;
    /** A small double-quantized golden case ([64, 96] float32, nf4, blocksize 64). */
    static final String DQ = "c.nf4.dq1.bs64.";
    static final String PLAIN = "c.fp4.dq0.bs128.";
    private static SafetensorsFile golden;

    @BeforeAll
    static void open() {
        DequantizerTest.open();
        golden = SafetensorsFile.open(Fixtures.path("bnb/golden_bnb.safetensors"));
    }

    @AfterAll
    static void close() {
        DequantizerTest.close();
        if (golden != null) {
            golden.close();
        }
    }

    @Test
    void findsTransformersNf4DoubleQuantWeights() {
        checkTinyLlama("base-bnb-nf4-dq", QuantType.NF4, true);
    }

    @Test
    void findsTransformersFp4Weights() {
        checkTinyLlama("base-bnb-fp4", QuantType.FP4, false);
    }

    private static void checkTinyLlama(String variant, QuantType type, boolean dq) {
        try (SafetensorsFile base = SafetensorsFile.open(Fixtures.path("tiny-llama/base-bf16/model.safetensors"));
             SafetensorsFile f = SafetensorsFile.open(Fixtures.path("tiny-llama/" + variant + "/model.safetensors"))) {
            Map<String, Bnb4bitWeight> found = Bnb4bitWeight.find(f);
            assertEquals(14, found.size());
            Set<String> expected = new TreeSet<>();
            for (int layer = 0; layer < 2; layer++) {
                for (String m : new String[] {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                        "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"}) {
                    expected.add("model.layers." + layer + "." + m + ".weight");
                }
            }
            assertEquals(expected, found.keySet());
            for (Bnb4bitWeight w : found.values()) {
                TensorInfo src = base.header().tensor(w.name());
                assertEquals(type, w.type(), w.name());
                assertEquals(64, w.blocksize());
                assertEquals(DType.BF16, w.dtype());
                assertEquals(dq, w.doubleQuant());
                assertArrayEquals(src.shape(), w.shape(), w.name());
                assertEquals(w.name(), w.packed().name());
                assertEquals(w.name() + ".quant_state.bitsandbytes__" + type.id(), w.quantState().name());
                if (dq) {
                    assertEquals(w.name() + ".nested_absmax", w.nestedAbsmax().name());
                    assertTrue(w.nestedOffset() > 0.04f && w.nestedOffset() < 0.06f, "offset " + w.nestedOffset());
                    // the quant state as quantflow writes it is the JSON transformers wrote
                    assertArrayEquals(Fixtures.bytes(f, w.quantState().name()), w.state().toJson());
                } else {
                    assertNull(w.nestedAbsmax());
                    assertNull(w.nestedQuantMap());
                    assertEquals(0f, w.nestedOffset());
                    assertArrayEquals(Fixtures.bytes(f, w.quantState().name()), w.state().toJson());
                }
            }
        }
    }

    @Test
    void aFileWithoutFourBitWeightsHasNone() {
        try (SafetensorsFile base = SafetensorsFile.open(Fixtures.path("tiny-llama/base-bf16/model.safetensors"))) {
            assertTrue(Bnb4bitWeight.find(base).isEmpty());
        }
    }

    @Test
    void wrongShape(@TempDir Path dir) {
        refused(dir, DQ, b -> state(b, DQ, "nf4", s -> s.replace("[64, 96]", "[64, 95]")), Reason.QUANT_TENSOR_MISMATCH, "6080");
        refused(dir, PLAIN, b -> state(b, PLAIN, "fp4", s -> s.replace("[64, 96]", "[64, -96]")), Reason.QUANT_STATE_INVALID, "-96");
        refused(dir, PLAIN, b -> state(b, PLAIN, "fp4", s -> s.replace("\"shape\": [64, 96]", "\"shape\": null")), Reason.QUANT_STATE_INVALID, "shape");
    }

    @Test
    void missingAbsmax(@TempDir Path dir) {
        refused(dir, DQ, b -> b.remove(W + ".absmax"), Reason.QUANT_TENSOR_MISSING, W + ".absmax");
        refused(dir, PLAIN, b -> b.remove(W + ".quant_map"), Reason.QUANT_TENSOR_MISSING, W + ".quant_map");
    }

    @Test
    void missingPackedWeight(@TempDir Path dir) {
        refused(dir, PLAIN, b -> b.remove(W), Reason.QUANT_TENSOR_MISSING, W);
    }

    @Test
    void unknownQuantType(@TempDir Path dir) {
        refused(dir, PLAIN, b -> {
            byte[] json = Fixtures.bytes(golden, PLAIN + "quant_state.bitsandbytes__fp4");
            return b.remove(W + ".quant_state.bitsandbytes__fp4")
                    .bytes(W + ".quant_state.bitsandbytes__int4", DType.U8, shape(json.length), json);
        }, Reason.QUANT_STATE_INVALID, "int4");
        refused(dir, PLAIN, b -> state(b, PLAIN, "fp4", s -> s.replace("\"fp4\"", "\"nf4\"")), Reason.QUANT_STATE_INVALID, "nf4");
    }

    @Test
    void badQuantStateFields(@TempDir Path dir) {
        refused(dir, PLAIN, b -> state(b, PLAIN, "fp4", s -> s.replace("float32", "float8")), Reason.QUANT_STATE_INVALID, "float8");
        refused(dir, PLAIN, b -> state(b, PLAIN, "fp4", s -> s.replace("128", "100")), Reason.QUANT_STATE_INVALID, "100");
        refused(dir, PLAIN, b -> state(b, PLAIN, "fp4", s -> s.replace("128", "\"128\"")), Reason.QUANT_STATE_INVALID, "blocksize");
        refused(dir, PLAIN, b -> state(b, PLAIN, "fp4", s -> s.replace("}", ", \"quant_storage\": \"uint8\"}")), Reason.QUANT_STATE_INVALID, "quant_storage");
        refused(dir, PLAIN, b -> state(b, PLAIN, "fp4", s -> s.substring(0, 20)), Reason.QUANT_STATE_INVALID, "");
        refused(dir, PLAIN, b -> state(b, PLAIN, "fp4", s -> "[1, 2]"), Reason.QUANT_STATE_INVALID, "");
        refused(dir, PLAIN, b -> state(b, PLAIN, "fp4", s -> s.replace("}", ", \"blocksize\": 64}")), Reason.QUANT_STATE_INVALID, "");
    }

    @Test
    void blockCountsMustAgree(@TempDir Path dir) {
        // [64, 96] with blocksize 128 is 48 blocks
        refused(dir, PLAIN, b -> b.remove(W + ".absmax").floats(W + ".absmax", DType.F32, shape(47), new float[47]),
                Reason.QUANT_TENSOR_MISMATCH, "48");
        refused(dir, DQ, b -> b.remove(W + ".nested_absmax").floats(W + ".nested_absmax", DType.F32, shape(2), new float[2]),
                Reason.QUANT_TENSOR_MISMATCH, W + ".nested_absmax");
        refused(dir, DQ, b -> b.remove(W + ".absmax").floats(W + ".absmax", DType.F32, shape(96), new float[96]),
                Reason.QUANT_TENSOR_MISMATCH, "96");
    }

    @Test
    void nestedTensorsAndFieldsGoTogether(@TempDir Path dir) {
        refused(dir, DQ, b -> state(b, DQ, "nf4", s -> s.substring(0, s.indexOf(", \"nested_blocksize\"")) + "}"),
                Reason.QUANT_STATE_INVALID, "nested_");
        refused(dir, DQ, b -> b.remove(W + ".nested_quant_map"), Reason.QUANT_TENSOR_MISSING, W + ".nested_quant_map");
        refused(dir, DQ, b -> b.remove(W + ".nested_absmax"), Reason.QUANT_TENSOR_MISSING, W + ".nested_absmax");
        refused(dir, PLAIN, b -> state(b, PLAIN, "fp4", s -> s.replace("}", ", \"nested_offset\": 0.5}")), Reason.QUANT_TENSOR_MISSING, W + ".nested_absmax");
        refused(dir, DQ, b -> state(b, DQ, "nf4", s -> s.replace("\"nested_blocksize\": 256", "\"nested_blocksize\": 128")),
                Reason.QUANT_STATE_INVALID, "128");
        refused(dir, DQ, b -> state(b, DQ, "nf4", s -> s.replaceAll("\"nested_offset\": [0-9.e-]+", "\"nested_offset\": NaN")),
                Reason.QUANT_STATE_INVALID, "nested_offset");
    }

    @Test
    void storedQuantMapMustBeTheCodeBook(@TempDir Path dir) {
        float[] map = QuantType.FP4.codebook();
        map[5] = 0.55f;
        refused(dir, PLAIN, b -> b.remove(W + ".quant_map").floats(W + ".quant_map", DType.F32, shape(16), map), Reason.QUANT_TENSOR_MISMATCH, W + ".quant_map");
        refused(dir, PLAIN, b -> b.remove(W + ".quant_map").floats(W + ".quant_map", DType.F32, shape(16), QuantType.NF4.codebook()),
                Reason.QUANT_TENSOR_MISMATCH, W + ".quant_map");
    }

    @Test
    void companionsWithoutAQuantStateAreRefused(@TempDir Path dir) {
        refused(dir, PLAIN, b -> b.remove(W + ".quant_state.bitsandbytes__fp4"), Reason.QUANT_TENSOR_MISSING, W + ".quant_state.bitsandbytes__nf4");
    }

    @Test
    void otherStorageDtypesHoldingTheSameBytesAreAccepted(@TempDir Path dir) {
        // bnb_4bit_quant_storage=bfloat16 stores the packed bytes as a BF16 tensor of half as many elements
        TensorFileBuilder b = DequantizerTest.goldenWeight(PLAIN, W);
        byte[] packed = Fixtures.bytes(golden, PLAIN + "packed");
        b.remove(W).bytes(W, DType.BF16, shape(packed.length / 2, 1), packed);
        try (SafetensorsFile f = SafetensorsFile.open(b.write(dir.resolve("m.safetensors")))) {
            assertEquals(DType.BF16, Bnb4bitWeight.find(f).get(W).packed().dtype());
        }
    }

    private static TensorFileBuilder state(TensorFileBuilder b, String prefix, String q, UnaryOperator<String> edit) {
        String json = new String(Fixtures.bytes(golden, prefix + "quant_state.bitsandbytes__" + q), StandardCharsets.US_ASCII);
        return b.remove(W + ".quant_state.bitsandbytes__" + q).text(W + ".quant_state.bitsandbytes__" + q, edit.apply(json));
    }

    private static int files;

    /** Asserts the weight is refused with INVALID_CHECKPOINT for {@code reason}, naming the weight and {@code names}. */
    private static void refused(Path dir, String prefix, UnaryOperator<TensorFileBuilder> breakIt, Reason reason, String names) {
        Path file = breakIt.apply(DequantizerTest.goldenWeight(prefix, W)).write(dir.resolve("m" + files++ + ".safetensors"));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            QuantflowException e = assertThrows(QuantflowException.class, () -> Bnb4bitWeight.find(f));
            assertEquals(ErrorCode.INVALID_CHECKPOINT, e.code(), e.getMessage());
            assertEquals(reason, e.reason(), e.getMessage());
            assertTrue(e.getMessage().contains("4-bit weight " + W + ":"), e.getMessage());
            assertTrue(e.getMessage().contains(names), "expected '" + names + "' in: " + e.getMessage());
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
        }
    }
}
