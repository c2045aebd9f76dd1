package io.quantflow.core.lora;

import io.quantflow.core.Fixtures;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.quant.Bnb4bitWeight;
import io.quantflow.core.quant.DtypeEncoding;
import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.TensorInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.quantflow.core.TensorFileBuilder.shape;
import static io.quantflow.core.lora.AdapterBuilder.P;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading PEFT LoRA adapters: the reference adapter, every PEFT option quantflow honours, and every refusal. */
class LoraAdapterTest {
    static final String Q0 = "model.layers.0.self_attn.q_proj";
    static final String K0 = "model.layers.0.self_attn.k_proj";
    static final String V0 = "model.layers.0.self_attn.v_proj";
    static final String Q1 = "model.layers.1.self_attn.q_proj";
    static final String DOWN0 = "model.layers.0.mlp.down_proj";

    @TempDir
    Path tmp;
    private int dirs;

    // ------------------------------------------------------------------ the reference adapter

    @Test
    void peftAdapterOpensAndFitsItsBase() {
        try (LoraAdapter adapter = LoraAdapter.open(Fixtures.path("tiny-llama/lora-adapter"));
             SafetensorsFile base = SafetensorsFile.open(Fixtures.path("tiny-llama/base-bf16/model.safetensors"))) {
            LoraConfig c = adapter.config();
            assertEquals(8, c.r());
            assertEquals(16.0, c.loraAlpha());
            assertFalse(c.useRslora() || c.useDora() || c.loraBias() || c.fanInFanOut());
            assertEquals(List.of("down_proj", "q_proj", "gate_proj", "v_proj", "up_proj", "o_proj", "k_proj"), c.targetModules());
            assertNull(c.targetModulesRegex());
            assertNull(c.baseModelNameOrPath());
            assertEquals(14, adapter.modules().size());
            assertTrue(adapter.replacedTensors().isEmpty());
            assertNull(adapter.baseModifyingInit());
            for (LoraModule m : adapter.modules().values()) {
                assertEquals(8, m.rank());
                assertEquals(16.0, m.alpha());
                assertEquals(2.0, m.scale());
                assertFalse(m.dora() || m.embedding() || m.fanInFanOut() || m.transposed());
                assertNull(m.magnitude());
                assertNull(m.bias());
                assertEquals(P + m.module() + ".lora_A.weight", m.a().name());
                assertEquals(P + m.module() + ".lora_B.weight", m.b().name());
                assertArrayEquals(base.header().tensor(m.baseWeightName()).shape(), m.baseWeightShape(), m.module());
            }
            LoraModule down = adapter.modules().get(DOWN0);
            assertArrayEquals(shape(8, 688), down.a().shape());
            assertArrayEquals(shape(256, 8), down.b().shape());
            assertEquals(688, down.inFeatures());
            assertEquals(256, down.outFeatures());

            Map<String, TensorInfo> baseTensors = new HashMap<>();
            base.header().tensors().forEach(t -> baseTensors.put(t.name(), t));
            adapter.validateAgainst(baseTensors);
        }
    }

    @Test
    void peftAdapterFitsTheFourBitBaseByLogicalShape() {
        try (LoraAdapter adapter = LoraAdapter.open(Fixtures.path("tiny-llama/lora-adapter"));
             SafetensorsFile base = SafetensorsFile.open(Fixtures.path("tiny-llama/base-bnb-nf4-dq/model.safetensors"))) {
            Map<String, long[]> shapes = new HashMap<>();
            base.header().tensors().forEach(t -> shapes.put(t.name(), t.shape()));
            Map<String, TensorInfo> stored = new HashMap<>();
            base.header().tensors().forEach(t -> stored.put(t.name(), t));
            // the packed U8 tensors do not have the weights' shapes
            expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_SHAPE_MISMATCH, "[88064, 1]",
                    () -> adapter.validateAgainst(stored));
            Bnb4bitWeight.find(base).forEach((name, w) -> shapes.put(name, w.shape()));
            adapter.validateAgainstShapes(shapes);
        }
    }

    /** A and B as read here, with scale 2, give PEFT's merge_and_unload result: the orientation is right. */
    @Test
    void peftAdapterReproducesPeftsMerge() {
        try (LoraAdapter adapter = LoraAdapter.open(Fixtures.path("tiny-llama/lora-adapter"));
             SafetensorsFile base = SafetensorsFile.open(Fixtures.path("tiny-llama/base-bf16/model.safetensors"));
             SafetensorsFile merged = SafetensorsFile.open(Fixtures.path("tiny-llama/merged-bf16/model.safetensors"))) {
            LoraModule m = adapter.modules().get(DOWN0);
            float[] a = adapter.readFloats(m.a());
            float[] b = adapter.readFloats(m.b());
            int out = (int) m.outFeatures();
            int in = (int) m.inFeatures();
            float[] w = bf16(base, m.baseWeightName(), out * in);
            float[] expected = bf16(merged, m.baseWeightName(), out * in);
            float scale = (float) m.scale();
            int differing = 0;
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < in; i++) {
                    float d = 0f;
                    for (int k = 0; k < m.rank(); k++) {
                        d += b[o * m.rank() + k] * a[k * in + i];
                    }
                    float v = DtypeEncoding.round(DType.BF16, w[o * in + i] + d * scale);
                    float e = expected[o * in + i];
                    if (v != e) {
                        differing++;
                        // float32 sums in another order can move a value across a bf16 rounding boundary
                        assertTrue(Math.abs(v - e) <= Math.ulp(e) * 65536f, "element " + o + "," + i + ": " + v + " vs " + e);
                    }
                }
            }
            assertTrue(differing <= out * in / 1000, differing + " of " + out * in + " merged values differ by one bf16 step");
        }
    }

    private static float[] bf16(SafetensorsFile f, String name, int n) {
        float[] out = new float[n];
        HalfFloats.decode(DType.BF16, Fixtures.bytes(f, name), 0, n, out, 0);
        return out;
    }

    // ------------------------------------------------------------------ PEFT options

    @Test
    void rsloraScalesByTheSquareRootOfTheRank() {
        AdapterBuilder b = new AdapterBuilder().set("r", 16).set("lora_alpha", 8).set("use_rslora", true)
                .set("rank_pattern", Map.of("k_proj", 4))
                .lora(Q0, 16, 256, 256).lora(K0, 4, 256, 128);
        try (LoraAdapter adapter = open(b)) {
            assertTrue(adapter.config().useRslora());
            assertEquals(2.0, adapter.modules().get(Q0).scale());
            assertEquals(4.0, adapter.modules().get(K0).scale());
            assertEquals(4, adapter.modules().get(K0).rank());
        }
        assertEquals(8 / Math.sqrt(3), LoraConfig.scale(8, 3, true));
        assertEquals(8 / 3.0, LoraConfig.scale(8, 3, false));
    }

    @Test
    void rankAndAlphaPatternsMatchLikePeft() {
        Map<String, Object> ranks = new LinkedHashMap<>();
        ranks.put("layers.0.self_attn.q_proj", 2);
        ranks.put("q_proj", 4);
        ranks.put("model\\.layers\\.[01]\\.mlp\\.down_proj", 6);
        ranks.put("_proj", 3); // matches nothing: a key matches after a dot or from the start
        AdapterBuilder b = new AdapterBuilder().set("rank_pattern", ranks).set("alpha_pattern", Map.of("v_proj", 32.5))
                .lora(Q0, 2, 256, 256).lora(Q1, 4, 256, 256).lora(DOWN0, 6, 688, 256).lora(V0, 8, 256, 128).lora(K0, 8, 256, 128);
        try (LoraAdapter adapter = open(b)) {
            Map<String, LoraModule> m = adapter.modules();
            assertEquals(List.of(2, 4, 6, 8, 8), List.of(m.get(Q0).rank(), m.get(Q1).rank(), m.get(DOWN0).rank(),
                    m.get(V0).rank(), m.get(K0).rank()));
            assertEquals(8.0, m.get(Q0).scale());
            assertEquals(4.0, m.get(Q1).scale());
            assertEquals(32.5, m.get(V0).alpha());
            assertEquals(32.5 / 8, m.get(V0).scale());
            assertEquals(2.0, m.get(K0).scale());
            assertEquals(List.of("layers.0.self_attn.q_proj", "q_proj", "model\\.layers\\.[01]\\.mlp\\.down_proj", "_proj"),
                    List.copyOf(adapter.config().rankPattern().keySet()));
        }
    }

    @Test
    void theFirstMatchingPatternWins() {
        Map<String, Object> ranks = new LinkedHashMap<>();
        ranks.put("q_proj", 4);
        ranks.put("layers.0.self_attn.q_proj", 2);
        AdapterBuilder b = new AdapterBuilder().set("rank_pattern", ranks).lora(Q0, 2, 256, 256);
        expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_RANK_MISMATCH, "(rank_pattern 'q_proj')", () -> open(b));
    }

    @Test
    void patternKeysFollowGetPatternKey() {
        List<String> keys = List.of("q_proj", "self_attn.k_proj|v_proj", "layers\\.1\\..*");
        assertEquals("q_proj", LoraConfig.patternKey(keys, Q0));
        assertNull(LoraConfig.patternKey(keys, "model.layers.0.self_attn.xq_proj"));
        assertEquals("q_proj", LoraConfig.patternKey(keys, "q_proj"));
        assertEquals("self_attn.k_proj|v_proj", LoraConfig.patternKey(keys, V0));
        assertEquals("self_attn.k_proj|v_proj", LoraConfig.patternKey(keys, K0));
        assertEquals("layers\\.1\\..*", LoraConfig.patternKey(keys, "model.layers.1.mlp.up_proj"));
        assertNull(LoraConfig.patternKey(keys, "model.layers.0.mlp.up_proj"));
    }

    @Test
    void rankDisagreeingWithTheConfigIsRefused() {
        AdapterBuilder b = new AdapterBuilder().lora(Q0, 4, 256, 256);
        expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_RANK_MISMATCH, "rank 8 (r)",
                () -> open(b));
    }

    @Test
    void regexTargetModulesMustMatchWholeNames() {
        AdapterBuilder ok = new AdapterBuilder().set("target_modules", ".*\\.(q_proj|v_proj)").lora(Q0, 8, 256, 256).lora(V0, 8, 256, 128);
        try (LoraAdapter adapter = open(ok)) {
            assertEquals(".*\\.(q_proj|v_proj)", adapter.config().targetModulesRegex());
            assertNull(adapter.config().targetModules());
            assertEquals(2, adapter.modules().size());
        }
        AdapterBuilder extra = new AdapterBuilder().set("target_modules", ".*\\.(q_proj|v_proj)").lora(Q0, 8, 256, 256).lora(K0, 8, 256, 128);
        expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_MODULE_NOT_TARGETED, K0, () -> open(extra));
        AdapterBuilder partial = new AdapterBuilder().set("target_modules", "q_proj").lora(Q0, 8, 256, 256);
        expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_MODULE_NOT_TARGETED, Q0,
                () -> open(partial));
        AdapterBuilder named = new AdapterBuilder().set("target_modules", ".*\\.(?P<proj>q_proj)").lora(Q0, 8, 256, 256);
        try (LoraAdapter adapter = open(named)) {
            assertEquals(1, adapter.modules().size());
        }
        AdapterBuilder all = new AdapterBuilder().set("target_modules", "all-linear").lora(Q0, 8, 256, 256).lora(DOWN0, 8, 688, 256);
        try (LoraAdapter adapter = open(all)) {
            assertEquals(2, adapter.modules().size());
        }
    }

    @Test
    void listTargetModulesMatchNamesOrSuffixesAfterADot() {
        AdapterBuilder b = new AdapterBuilder().set("target_modules", List.of("self_attn.q_proj", DOWN0))
                .lora(Q0, 8, 256, 256).lora(Q1, 8, 256, 256).lora(DOWN0, 8, 688, 256);
        try (LoraAdapter adapter = open(b)) {
            assertEquals(3, adapter.modules().size());
        }
        AdapterBuilder suffix = new AdapterBuilder().set("target_modules", List.of("_proj")).lora(Q0, 8, 256, 256);
        expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_MODULE_NOT_TARGETED, Q0,
                () -> open(suffix));
        // PEFT never puts LoRA inside a module it saves whole
        AdapterBuilder saved = new AdapterBuilder().set("target_modules", List.of("q_proj", "lm_head"))
                .set("modules_to_save", List.of("lm_head")).lora(Q0, 8, 256, 256).lora("lm_head", 8, 256, 1000);
        expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_MODULE_NOT_TARGETED, "lm_head", () -> open(saved));
    }

    @Test
    void fanInFanOutTransposesTheBaseWeight() {
        String attn = "transformer.h.0.attn.c_attn";
        AdapterBuilder b = new AdapterBuilder().set("fan_in_fan_out", true).set("target_modules", List.of("c_attn"))
                .lora(attn, 8, 256, 768);
        try (LoraAdapter adapter = open(b)) {
            LoraModule m = adapter.modules().get(attn);
            assertTrue(m.fanInFanOut());
            assertTrue(m.transposed());
            assertArrayEquals(shape(256, 768), m.baseWeightShape());
            adapter.validateAgainstShapes(Map.of(attn + ".weight", shape(256, 768)));
            expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_SHAPE_MISMATCH, "([in, out] with fan_in_fan_out)", () -> adapter.validateAgainstShapes(Map.of(attn + ".weight", shape(768, 256))));
            expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_SHAPE_MISMATCH, "[256, 700]",
                    () -> adapter.validateAgainstShapes(Map.of(attn + ".weight", shape(256, 700))));
        }
    }

    @Test
    void doraMagnitudeInBothSpellings() {
        AdapterBuilder b = new AdapterBuilder().set("use_dora", true).lora(Q0, 8, 256, 256).lora(K0, 8, 256, 128)
                .tensor(P + Q0 + ".lora_magnitude_vector", 256).tensor(P + K0 + ".lora_magnitude_vector.weight", 128);
        try (LoraAdapter adapter = open(b)) {
            LoraModule q = adapter.modules().get(Q0);
            assertTrue(q.dora());
            assertEquals(P + Q0 + ".lora_magnitude_vector", q.magnitude().name());
            assertEquals(P + K0 + ".lora_magnitude_vector.weight", adapter.modules().get(K0).magnitude().name());
            adapter.validateAgainstShapes(tinyLlamaShapes());
            assertEquals(256, adapter.readFloats(q.magnitude()).length);
        }
    }

    @Test
    void doraMagnitudeMustMatchTheConfigAndShape() {
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_TENSORS_CONTRADICT_CONFIG, P + Q0 + ".lora_magnitude_vector",
                () -> open(new AdapterBuilder().set("use_dora", true).lora(Q0, 8, 256, 256)));
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_TENSORS_CONTRADICT_CONFIG, P + Q0 + ".lora_magnitude_vector",
                () -> open(new AdapterBuilder().lora(Q0, 8, 256, 256).tensor(P + Q0 + ".lora_magnitude_vector", 256)));
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_SHAPES_INCONSISTENT, K0,
                () -> open(new AdapterBuilder().set("use_dora", true).lora(K0, 8, 256, 128).tensor(P + K0 + ".lora_magnitude_vector", 256)));
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_TENSOR_CONFLICT, Q0,
                () -> open(new AdapterBuilder().set("use_dora", true).lora(Q0, 8, 256, 256).tensor(P + Q0 + ".lora_magnitude_vector", 256)
                        .tensor(P + Q0 + ".lora_magnitude_vector.weight", 256)));
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_TENSOR_UNPAIRED, P + Q0 + ".lora_magnitude_vector",
                () -> open(new AdapterBuilder().set("use_dora", true).lora(K0, 8, 256, 128).tensor(P + K0 + ".lora_magnitude_vector", 128)
                        .tensor(P + Q0 + ".lora_magnitude_vector", 256)));
    }

    @Test
    void loraBiasGoesToTheBaseBias() {
        AdapterBuilder b = new AdapterBuilder().set("lora_bias", true).lora(Q0, 8, 256, 256).tensor(P + Q0 + ".lora_B.bias", 256);
        try (LoraAdapter adapter = open(b)) {
            LoraModule q = adapter.modules().get(Q0);
            assertEquals(P + Q0 + ".lora_B.bias", q.bias().name());
            assertEquals(Q0 + ".bias", q.baseBiasName());
            Map<String, long[]> base = tinyLlamaShapes();
            expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_MODULE_NOT_IN_BASE, Q0 + ".bias", () -> adapter.validateAgainstShapes(base));
            base.put(Q0 + ".bias", shape(256));
            adapter.validateAgainstShapes(base);
            base.put(Q0 + ".bias", shape(255));
            expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_SHAPE_MISMATCH, "[255]",
                    () -> adapter.validateAgainstShapes(base));
        }
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_TENSORS_CONTRADICT_CONFIG, P + Q0 + ".lora_B.bias",
                () -> open(new AdapterBuilder().set("lora_bias", true).lora(Q0, 8, 256, 256)));
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_TENSORS_CONTRADICT_CONFIG, P + Q0 + ".lora_B.bias",
                () -> open(new AdapterBuilder().lora(Q0, 8, 256, 256).tensor(P + Q0 + ".lora_B.bias", 256)));
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_SHAPES_INCONSISTENT, Q0,
                () -> open(new AdapterBuilder().set("lora_bias", true).lora(Q0, 8, 256, 256).tensor(P + Q0 + ".lora_B.bias", 8)));
    }

    @Test
    void modulesToSaveAndSavedBiasesReplaceBaseTensors() {
        AdapterBuilder b = new AdapterBuilder().set("modules_to_save", List.of("lm_head")).set("bias", "lora_only")
                .lora(Q0, 8, 256, 256).tensor(P + "lm_head.weight", 1000, 256).tensor(P + Q0 + ".base_layer.bias", 256);
        try (LoraAdapter adapter = open(b)) {
            Map<String, TensorInfo> r = adapter.replacedTensors();
            assertEquals(List.of("lm_head.weight", Q0 + ".bias"), List.copyOf(r.keySet()));
            assertEquals(P + "lm_head.weight", r.get("lm_head.weight").name());
            assertEquals(P + Q0 + ".base_layer.bias", r.get(Q0 + ".bias").name());
            assertEquals(List.of("lm_head"), adapter.config().modulesToSave());
            assertEquals(1, adapter.modules().size());
            Map<String, long[]> base = tinyLlamaShapes();
            base.put(Q0 + ".bias", shape(256));
            adapter.validateAgainstShapes(base);
            base.put("lm_head.weight", shape(1001, 256));
            expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_SHAPE_MISMATCH, "[1001, 256]", () -> adapter.validateAgainstShapes(base));
            base.remove("lm_head.weight");
            expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_MODULE_NOT_IN_BASE, "lm_head.weight",
                    () -> adapter.validateAgainstShapes(base));
        }
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_TENSOR_CONFLICT, "lm_head.weight", () -> open(new AdapterBuilder().lora(Q0, 8, 256, 256)
                .tensor(P + "lm_head.weight", 1000, 256).tensor(P + "lm_head.base_layer.weight", 1000, 256)));
    }

    @Test
    void embeddingLora() {
        String emb = "model.embed_tokens";
        AdapterBuilder b = new AdapterBuilder().set("target_modules", List.of("embed_tokens", "q_proj"))
                .tensor(P + emb + ".lora_embedding_A", 8, 1000).tensor(P + emb + ".lora_embedding_B", 256, 8).lora(Q0, 8, 256, 256);
        try (LoraAdapter adapter = open(b)) {
            LoraModule m = adapter.modules().get(emb);
            assertTrue(m.embedding());
            assertFalse(m.fanInFanOut());
            assertTrue(m.transposed());
            assertEquals(8, m.rank());
            assertEquals(2.0, m.scale());
            assertEquals(1000, m.inFeatures());
            assertEquals(256, m.outFeatures());
            assertArrayEquals(shape(1000, 256), m.baseWeightShape());
            adapter.validateAgainstShapes(tinyLlamaShapes());
            expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_SHAPE_MISMATCH, "([num_embeddings, dim])", () -> adapter.validateAgainstShapes(Map.of(emb + ".weight", shape(256, 1000),
                    Q0 + ".weight", shape(256, 256))));
        }
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_TENSOR_UNPAIRED, P + emb + ".lora_embedding_B", () -> open(new AdapterBuilder().set("target_modules", List.of("embed_tokens"))
                .tensor(P + emb + ".lora_embedding_A", 8, 1000)));
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_TENSORS_CONTRADICT_CONFIG, emb,
                () -> open(new AdapterBuilder().set("target_modules", List.of("embed_tokens")).set("lora_bias", true)
                        .tensor(P + emb + ".lora_embedding_A", 8, 1000).tensor(P + emb + ".lora_embedding_B", 256, 8)));
        // fan_in_fan_out does not apply to embeddings, and DoRA's magnitude is per embedding dimension
        AdapterBuilder dora = new AdapterBuilder().set("target_modules", List.of("embed_tokens")).set("fan_in_fan_out", true)
                .set("use_dora", true).tensor(P + emb + ".lora_embedding_A", 8, 1000).tensor(P + emb + ".lora_embedding_B", 256, 8)
                .tensor(P + emb + ".lora_magnitude_vector", 256);
        try (LoraAdapter adapter = open(dora)) {
            LoraModule m = adapter.modules().get(emb);
            assertFalse(m.fanInFanOut());
            assertTrue(m.dora());
            adapter.validateAgainstShapes(tinyLlamaShapes());
        }
    }

    @Test
    void keysWithoutThePeftModelPrefixReadTheSame() {
        AdapterBuilder b = new AdapterBuilder();
        b.tensor(Q0 + ".lora_A.weight", 8, 256).tensor(Q0 + ".lora_B.weight", 256, 8);
        try (LoraAdapter adapter = open(b)) {
            assertEquals(Q0 + ".lora_A.weight", adapter.modules().get(Q0).a().name());
        }
        AdapterBuilder mixed = new AdapterBuilder().lora(Q0, 8, 256, 256);
        mixed.tensor(K0 + ".lora_A.weight", 8, 256).tensor(K0 + ".lora_B.weight", 128, 8);
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_TENSOR_UNKNOWN, K0, () -> open(mixed));
    }

    @Test
    void readFloatsDecodesEveryFloatType() {
        AdapterBuilder b = new AdapterBuilder();
        b.tensors.floats(P + Q0 + ".lora_A.weight", DType.BF16, shape(8, 256), ramp(8 * 256))
                .floats(P + Q0 + ".lora_B.weight", DType.F16, shape(256, 8), ramp(256 * 8));
        b.tensors.floats(P + K0 + ".lora_A.weight", DType.F32, shape(8, 256), ramp(8 * 256))
                .floats(P + K0 + ".lora_B.weight", DType.F32, shape(128, 8), ramp(128 * 8));
        try (LoraAdapter adapter = open(b)) {
            LoraModule q = adapter.modules().get(Q0);
            float[] a = adapter.readFloats(q.a());
            float[] bb = adapter.readFloats(q.b());
            float[] k = adapter.readFloats(adapter.modules().get(K0).a());
            for (int i = 0; i < a.length; i++) {
                assertEquals(DtypeEncoding.round(DType.BF16, ramp(a.length)[i]), a[i]);
                assertEquals(DtypeEncoding.round(DType.F16, ramp(bb.length)[i]), bb[i]);
                assertEquals(ramp(k.length)[i], k[i]);
            }
            assertThrows(IllegalArgumentException.class, () -> adapter.readFloats(new TensorInfo(q.a().name(), DType.BF16,
                    shape(8, 256), 1, 4097)));
        }
    }

    private static float[] ramp(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (i - n / 2) * 0.001234f;
        }
        return v;
    }

    @Test
    void configDefaultsAreFilledAsPeftFillsThem() {
        AdapterBuilder b = new AdapterBuilder();
        b.config.remove(List.of("r", "lora_alpha", "rank_pattern", "alpha_pattern", "use_rslora", "lora_bias", "use_dora",
                "fan_in_fan_out", "modules_to_save"));
        b.lora(Q0, 8, 256, 256);
        try (LoraAdapter adapter = open(b)) {
            assertEquals(8, adapter.config().r());
            assertEquals(8.0, adapter.config().loraAlpha());
            assertEquals(1.0, adapter.modules().get(Q0).scale());
            assertTrue(adapter.config().modulesToSave().isEmpty());
        }
    }

    @Test
    void initialisationsThatRewroteTheBaseAreReported() {
        try (LoraAdapter adapter = open(new AdapterBuilder().set("init_lora_weights", "pissa_niter_4").lora(Q0, 8, 256, 256))) {
            assertEquals("pissa_niter_4", adapter.baseModifyingInit());
        }
        try (LoraAdapter adapter = open(new AdapterBuilder().set("init_lora_weights", "gaussian").lora(Q0, 8, 256, 256))) {
            assertNull(adapter.baseModifyingInit());
        }
    }

    // ------------------------------------------------------------------ refusals

    @Test
    void missingDirectory() {
        expect(ErrorCode.SOURCE_NOT_FOUND, Reason.NO_SUCH_DIRECTORY, "nowhere", () -> LoraAdapter.open(tmp.resolve("nowhere")));
    }

    @Test
    void notAnAdapterDirectory() throws IOException {
        expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_IS_MODEL, "base-bf16", () -> LoraAdapter.open(Fixtures.path("tiny-llama/base-bf16")));
        Path file = Files.writeString(tmp.resolve("file.json"), "{}");
        expect(ErrorCode.INVALID_REQUEST, Reason.NOT_A_DIRECTORY, "file.json", () -> LoraAdapter.open(file));
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_CONFIG_MISSING, "adapter_config.json", () -> LoraAdapter.open(empty));
    }

    @Test
    void pickleWeightsAreNeverLoaded() throws IOException {
        Path dir = new AdapterBuilder().lora(Q0, 8, 256, 256).write(tmp.resolve("bin"));
        Files.move(dir.resolve(LoraAdapter.WEIGHTS_FILE), dir.resolve(LoraAdapter.PICKLE_FILE));
        QuantflowException e = expect(ErrorCode.UNSUPPORTED_MODEL, Reason.PICKLE_WEIGHTS, "adapter_model.bin",
                () -> LoraAdapter.open(dir));
        assertTrue(e.getMessage().contains("safe_serialization=True"), e.getMessage());
        Files.delete(dir.resolve(LoraAdapter.PICKLE_FILE));
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_WEIGHTS_MISSING, "adapter_model.safetensors", () -> LoraAdapter.open(dir));
    }

    @Test
    void malformedConfig() {
        for (String text : new String[] {"{\"peft_type\": \"LORA\", \"r\": 8,", "{\"peft_type\": \"LORA\"} {}",
                "{\"peft_type\": \"LORA\", \"r\": 8, \"r\": 16}", "", "[]"}) {
            expect(ErrorCode.INVALID_CHECKPOINT, Reason.JSON_MALFORMED, "adapter_config.json", () -> open(new AdapterBuilder().configText(text).lora(Q0, 8, 256, 256)));
        }
        // each field wrong in its own way; the message names the field
        Object[][] fields = {
                {"r", "eight"},
                {"r", 0},
                {"r", 8.5},
                {"lora_alpha", "x"},
                {"target_modules", 5},
                {"target_modules", null},
                {"target_modules", "(q_proj"},
                {"rank_pattern", Map.of("q_proj", -1)},
                {"rank_pattern", Map.of("q_proj[", 4)},
                {"alpha_pattern", List.of(1)},
                {"use_rslora", "yes"},
                {"bias", "some"},
                {"modules_to_save", "lm_head"},
        };
        for (Object[] f : fields) {
            AdapterBuilder b = new AdapterBuilder().set((String) f[0], f[1]).lora(Q0, 8, 256, 256);
            expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_CONFIG_INVALID, (String) f[0], () -> open(b));
        }
        AdapterBuilder noType = new AdapterBuilder().lora(Q0, 8, 256, 256);
        noType.config.remove("peft_type");
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_CONFIG_INVALID, "peft_type", () -> open(noType));
    }

    @Test
    void otherPeftMethodsAndUnmergeableVariantsAreUnsupported() {
        expect(ErrorCode.UNSUPPORTED_MODEL, Reason.ADAPTER_TYPE_UNSUPPORTED, "ADALORA", () -> open(new AdapterBuilder().set("peft_type", "ADALORA").lora(Q0, 8, 256, 256)));
        expect(ErrorCode.UNSUPPORTED_MODEL, Reason.ADAPTER_TYPE_UNSUPPORTED, "alora_invocation_tokens", () -> open(new AdapterBuilder()
                .set("alora_invocation_tokens", List.of(1, 2)).lora(Q0, 8, 256, 256)));
        expect(ErrorCode.UNSUPPORTED_MODEL, Reason.ADAPTER_TYPE_UNSUPPORTED, "use_qalora", () -> open(new AdapterBuilder().set("use_qalora", true).lora(Q0, 8, 256, 256)));
        expect(ErrorCode.UNSUPPORTED_MODEL, Reason.ADAPTER_TYPE_UNSUPPORTED, "trainable_token_indices", () -> open(new AdapterBuilder()
                .set("trainable_token_indices", List.of(5)).lora(Q0, 8, 256, 256)));
        expect(ErrorCode.UNSUPPORTED_MODEL, Reason.ADAPTER_TYPE_UNSUPPORTED, "target_parameters", () -> open(new AdapterBuilder()
                .set("target_parameters", List.of("experts.gate_up_proj")).lora(Q0, 8, 256, 256)));
        // empty or false values of those fields, as PEFT writes them, are fine
        try (LoraAdapter adapter = open(new AdapterBuilder().set("use_qalora", false).set("target_parameters", List.of())
                .set("eva_config", null).lora(Q0, 8, 256, 256))) {
            assertEquals(1, adapter.modules().size());
        }
    }

    @Test
    void aLoraTensorWithoutItsPartner() {
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_TENSOR_UNPAIRED, P + DOWN0 + ".lora_B.weight", () -> open(new AdapterBuilder().lora(Q0, 8, 256, 256).a(DOWN0, 8, 688)));
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_TENSOR_UNPAIRED, P + DOWN0 + ".lora_A.weight", () -> open(new AdapterBuilder().b(DOWN0, 256, 8)));
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_SHAPES_INCONSISTENT, "[256, 4]",
                () -> open(new AdapterBuilder().a(DOWN0, 8, 688).b(DOWN0, 256, 4)));
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_TENSOR_CONFLICT, Q0,
                () -> open(new AdapterBuilder().lora(Q0, 8, 256, 256).tensor(P + Q0 + ".lora_embedding_A", 8, 256)));
    }

    @Test
    void unknownLoraTensorsAreRefused() {
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_TENSOR_UNKNOWN, P + Q0 + ".lora_A.default.weight",
                () -> open(new AdapterBuilder().lora(K0, 8, 256, 128).tensor(P + Q0 + ".lora_A.default.weight", 8, 256)));
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_TENSOR_UNKNOWN, "lora_E", () -> open(new AdapterBuilder().lora(K0, 8, 256, 128).tensor(P + Q0 + ".lora_E", 8, 1)));
        expect(ErrorCode.INVALID_CHECKPOINT, Reason.ADAPTER_EMPTY, "adapter_model.safetensors", () -> open(new AdapterBuilder().tensor(P + "lm_head.weight", 10, 4)));
    }

    @Test
    void unsupportedTensorKinds() {
        AdapterBuilder conv = new AdapterBuilder().set("target_modules", List.of("conv")).tensor(P + "conv.lora_A.weight", 8, 3, 3, 3)
                .tensor(P + "conv.lora_B.weight", 16, 8, 1, 1);
        expect(ErrorCode.UNSUPPORTED_MODEL, Reason.ADAPTER_LAYER_UNSUPPORTED, "[8, 3, 3, 3]", () -> open(conv));
        AdapterBuilder f64 = new AdapterBuilder();
        f64.tensors.bytes(P + Q0 + ".lora_A.weight", DType.F64, shape(8, 256), new byte[8 * 256 * 8]);
        f64.tensor(P + Q0 + ".lora_B.weight", 256, 8);
        expect(ErrorCode.UNSUPPORTED_MODEL, Reason.TENSOR_DTYPE_UNSUPPORTED, "F64", () -> open(f64));
    }

    @Test
    void moduleMissingFromTheBase() {
        String m = "model.layers.5.mlp.down_proj";
        try (LoraAdapter adapter = open(new AdapterBuilder().lora(m, 8, 688, 256))) {
            expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_MODULE_NOT_IN_BASE, m + ".weight",
                    () -> adapter.validateAgainstShapes(tinyLlamaShapes()));
        }
    }

    @Test
    void shapeMismatchNamesTheModuleAndBothShapes() {
        try (LoraAdapter adapter = open(new AdapterBuilder().lora(DOWN0, 8, 700, 256))) {
            QuantflowException e = expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_SHAPE_MISMATCH, "", () -> adapter.validateAgainstShapes(tinyLlamaShapes()));
            assertEquals("adapter module model.layers.0.mlp.down_proj: lora_A is [8, 700] but the base weight is [256, 688]", e.getMessage());
        }
        try (LoraAdapter adapter = open(new AdapterBuilder().lora(DOWN0, 8, 688, 300))) {
            expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_SHAPE_MISMATCH, "[300, 8]",
                    () -> adapter.validateAgainstShapes(tinyLlamaShapes()));
            Map<String, long[]> base = tinyLlamaShapes();
            base.put(DOWN0 + ".weight", shape(256 * 688));
            expect(ErrorCode.INVALID_REQUEST, Reason.ADAPTER_SHAPE_MISMATCH, "[176128]",
                    () -> adapter.validateAgainstShapes(base));
        }
    }

    // ------------------------------------------------------------------ helpers

    private LoraAdapter open(AdapterBuilder b) {
        return LoraAdapter.open(b.write(tmp.resolve("adapter" + dirs++)));
    }

    /** The tiny-llama base's tensor shapes, mutable. */
    private static Map<String, long[]> tinyLlamaShapes() {
        Map<String, long[]> shapes = new HashMap<>();
        try (SafetensorsFile base = SafetensorsFile.open(Fixtures.path("tiny-llama/base-bf16/model.safetensors"))) {
            base.header().tensors().forEach(t -> shapes.put(t.name(), t.shape()));
        }
        return shapes;
    }

    /**
     * Asserts a one-line QuantflowException with the code and the reason whose message names {@code names}
     * (a module, tensor, shape or field: what the user must find, not the wording).
     */
    static QuantflowException expect(ErrorCode code, Reason reason, String names, Executable action) {
        QuantflowException e = assertThrows(QuantflowException.class, () -> {
            action.execute();
        });
        assertEquals(code, e.code(), e.getMessage());
        assertEquals(reason, e.reason(), e.getMessage());
        assertNotNull(e.getMessage());
        assertTrue(e.getMessage().contains(names), "expected '" + names + "' in: " + e.getMessage());
        assertFalse(e.getMessage().contains("\n") || e.getMessage().contains("\r"), e.getMessage());
        return e;
    }
}
