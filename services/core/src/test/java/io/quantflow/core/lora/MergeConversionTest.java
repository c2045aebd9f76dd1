package io.quantflow.core.lora;

import io.quantflow.core.Fixtures;
import io.quantflow.core.TensorFileBuilder;
import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.FixtureConversionTest;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.quant.Bnb4bitWeight;
import io.quantflow.core.quant.Dequantizer;
import io.quantflow.core.quant.DtypeEncoding;
import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.target.IfExists;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Converting with an adapter: the fixtures PEFT merged (tiny-llama/merged-*), a 4-bit base, refusals,
 * and random adapters of every kind against a reference written out here element by element.
 */
class MergeConversionTest {
    @TempDir
    Path tmp;

    private static Converter.Request request(Path base, Path adapter, Path out, List<OutputFormat> formats, QuantOptions q, DType dtype) {
        return new Converter.Request(base, adapter, out, formats, q, dtype, IfExists.FAIL, 2);
    }

    private static Converter.Result convert(Converter.Request r) {
        return new Converter().convert(r, Converter.Listener.NONE);
    }

    @Test
    void mergedOutputsMatchPeftAndTransformers() throws IOException {
        Path out = tmp.resolve("out");
        convert(request(Fixtures.path("tiny-llama/base-bf16"), Fixtures.path("tiny-llama/lora-adapter"), out,
                List.of(Formats.MERGED_16BIT, Formats.MERGED_4BIT, Formats.LORA), QuantOptions.defaults(), null));
        assertBf16Close(out.resolve("merged-16bit/model.safetensors"), Fixtures.path("tiny-llama/merged-bf16/model.safetensors"));
        assertEquals(Files.readString(Fixtures.path("tiny-llama/merged-bf16/config.json")), Files.readString(out.resolve("merged-16bit/config.json")));
        FixtureConversionTest.compareWeights(out.resolve("merged-4bit/model.safetensors"),
                Fixtures.path("tiny-llama/merged-bnb-nf4-dq/model.safetensors"), QuantType.NF4);
        assertEquals(Files.readString(Fixtures.path("tiny-llama/merged-bnb-nf4-dq/config.json")), Files.readString(out.resolve("merged-4bit/config.json")));
        // the adapter alone: same tensors, same bytes, its config as PEFT writes it
        try (LoraAdapter a = LoraAdapter.open(out.resolve("lora")); LoraAdapter b = LoraAdapter.open(Fixtures.path("tiny-llama/lora-adapter"))) {
            assertEquals(b.modules().keySet(), a.modules().keySet());
            for (TensorInfo t : b.file().header().tensors()) {
                assertArrayEquals(Fixtures.bytes(b.file(), t.name()), Fixtures.bytes(a.file(), t.name()), t.name());
            }
        }
        assertEquals(Files.readString(Fixtures.path("tiny-llama/lora-adapter/adapter_config.json")).strip(),
                Files.readString(out.resolve("lora/adapter_config.json")).strip());
    }

    @Test
    void mergedFp4MatchesTransformers() {
        Path out = tmp.resolve("fp4");
        convert(request(Fixtures.path("tiny-llama/base-bf16"), Fixtures.path("tiny-llama/lora-adapter"), out,
                List.of(Formats.MERGED_4BIT), new QuantOptions(QuantType.FP4, false, 64, DType.BF16, List.of()), null));
        FixtureConversionTest.compareWeights(out.resolve("model.safetensors"), Fixtures.path("tiny-llama/merged-bnb-fp4/model.safetensors"), QuantType.FP4);
    }

    @Test
    void aFourBitBaseIsDequantizedMergedAndRequantizedWithItsErrorReported() throws IOException {
        Path base = Fixtures.path("tiny-llama/base-bnb-nf4-dq");
        Path adapterDir = Fixtures.path("tiny-llama/lora-adapter");
        Path out = tmp.resolve("from4bit");
        Converter.Result r = convert(request(base, adapterDir, out, List.of(Formats.MERGED_16BIT, Formats.MERGED_4BIT),
                QuantOptions.defaults(), null));
        assertFalse(Files.readString(out.resolve("merged-16bit/config.json")).contains("quantization_config"));
        assertTrue(Files.readString(out.resolve("merged-4bit/config.json")).contains("\"bnb_4bit_quant_type\": \"nf4\""));
        assertNull(r.manifests().get(0).output().requantizationError());
        double err = r.manifests().get(1).output().requantizationError();
        assertTrue(err > 0.01 && err < 0.3, "nf4 requantization error " + err);

        // merged-16bit is exactly: dequantized base (as bitsandbytes) + 2 * B @ A, rounded to bf16
        try (SafetensorsFile q = SafetensorsFile.open(base.resolve("model.safetensors"));
             SafetensorsFile merged = SafetensorsFile.open(out.resolve("merged-16bit/model.safetensors"));
             LoraAdapter adapter = LoraAdapter.open(adapterDir)) {
            Map<String, Bnb4bitWeight> weights = Bnb4bitWeight.find(q);
            assertEquals(14, weights.size());
            for (Bnb4bitWeight w : weights.values()) {
                int n = (int) w.elements();
                float[] x = new float[n];
                Dequantizer.dequantize(q, w, Dequantizer.absmax(q, w), 0, n, x, 0);
                LoraModule m = adapter.modules().get(w.name().substring(0, w.name().length() - ".weight".length()));
                float[] expected = reference(x, adapter.readFloats(m.a()), adapter.readFloats(m.b()), m.rank(),
                        (int) w.shape()[0], (int) w.shape()[1], (float) m.scale(), null, DType.BF16);
                assertArrayEquals(expected, read(merged, w.name()), 0f, w.name());
            }
            TensorInfo norm = merged.header().tensor("model.norm.weight");
            assertArrayEquals(Fixtures.bytes(q, "model.norm.weight"), Fixtures.bytes(merged, norm.name()));
        }
    }

    @Test
    void anAdapterThatDoesNotFitIsRefusedNamingTheModule() {
        AdapterBuilder bad = new AdapterBuilder().lora("model.layers.0.self_attn.q_proj", 8, 256, 256)
                .lora("model.layers.1.mlp.down_proj", 8, 700, 256);
        Path adapter = bad.write(tmp.resolve("bad-adapter"));
        Path out = tmp.resolve("never");
        QuantflowException e = assertThrows(QuantflowException.class, () -> convert(request(Fixtures.path("tiny-llama/base-bf16"),
                adapter, out, List.of(Formats.MERGED_16BIT), QuantOptions.defaults(), null)));
        assertEquals(ErrorCode.INVALID_REQUEST, e.code());
        assertEquals(Reason.ADAPTER_SHAPE_MISMATCH, e.reason());
        assertTrue(e.getMessage().contains("model.layers.1.mlp.down_proj"), e.getMessage());
        assertEquals(1, e.oneLine().lines().count());
        assertFalse(Files.exists(out));
    }

    @Test
    void formatsAndAdapterMustAgree() {
        Path base = Fixtures.path("tiny-llama/base-bf16");
        Path adapter = Fixtures.path("tiny-llama/lora-adapter");
        Map<Converter.Request, Reason> refusals = new LinkedHashMap<>();
        refusals.put(request(base, null, tmp.resolve("a"), List.of(Formats.MERGED_16BIT), QuantOptions.defaults(), null),
                Reason.FORMAT_NEEDS_ADAPTER);
        refusals.put(request(base, adapter, tmp.resolve("b"), List.of(Formats.BNB_4BIT), QuantOptions.defaults(), null),
                Reason.FORMAT_REFUSES_ADAPTER);
        refusals.put(request(Fixtures.path("tiny-llama/base-bnb-nf4-dq"), null, tmp.resolve("c"), List.of(Formats.BNB_4BIT),
                QuantOptions.defaults(), null), Reason.ALREADY_4BIT);
        refusals.forEach((r, reason) -> {
            QuantflowException e = assertThrows(QuantflowException.class, () -> convert(r));
            assertTrue(e.code() == ErrorCode.INVALID_REQUEST || e.code() == ErrorCode.UNSUPPORTED_MODEL, e.oneLine());
            assertEquals(reason, e.reason(), e.oneLine());
        });
    }

    /** Random adapters of each kind: the merged output equals the definition, computed here element by element. */
    @Test
    void randomAdaptersMergeAsDefined() throws IOException {
        Random rnd = new Random(11);
        int hidden = 40;
        int inter = 72;
        TensorFileBuilder b = new TensorFileBuilder();
        Map<String, long[]> shapes = Map.of(
                "model.layers.0.self_attn.q_proj.weight", new long[] {hidden, hidden},
                "model.layers.0.self_attn.q_proj.bias", new long[] {hidden},
                "model.layers.0.self_attn.o_proj.weight", new long[] {hidden, hidden},
                "model.layers.0.self_attn.o_proj.bias", new long[] {hidden},
                "model.layers.0.mlp.up_proj.weight", new long[] {inter, hidden},
                "model.layers.0.mlp.up_proj.bias", new long[] {inter},
                "model.layers.0.mlp.down_proj.weight", new long[] {hidden, inter},
                "model.layers.0.mlp.down_proj.bias", new long[] {hidden},
                "model.norm.weight", new long[] {hidden},
                "lm_head.weight", new long[] {50, hidden});
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            b.filled(e.getKey(), DType.BF16, e.getValue(), i -> rnd.nextGaussian() * 0.02);
        }
        Path base = tmp.resolve("base");
        Files.createDirectories(base);
        b.write(base.resolve("model.safetensors"));
        Files.writeString(base.resolve("config.json"), "{\"model_type\": \"llama\", \"dtype\": \"bfloat16\"}");

        // rslora, a rank and an alpha pattern, lora_bias, lm_head saved whole, merged in float16
        AdapterBuilder a = new AdapterBuilder().set("use_rslora", true).set("r", 4).set("lora_alpha", 8)
                .set("rank_pattern", Map.of("up_proj", 6)).set("alpha_pattern", Map.of("o_proj", 3))
                .set("use_dora", false).set("lora_bias", true).set("modules_to_save", List.of("lm_head"))
                .lora("model.layers.0.self_attn.q_proj", 4, hidden, hidden)
                .lora("model.layers.0.self_attn.o_proj", 4, hidden, hidden)
                .lora("model.layers.0.mlp.up_proj", 6, hidden, inter)
                .lora("model.layers.0.mlp.down_proj", 4, inter, hidden)
                .tensor(AdapterBuilder.P + "model.layers.0.self_attn.q_proj.lora_B.bias", hidden)
                .tensor(AdapterBuilder.P + "model.layers.0.self_attn.o_proj.lora_B.bias", hidden)
                .tensor(AdapterBuilder.P + "model.layers.0.mlp.up_proj.lora_B.bias", inter)
                .tensor(AdapterBuilder.P + "model.layers.0.mlp.down_proj.lora_B.bias", hidden)
                .tensor(AdapterBuilder.P + "lm_head.weight", 50, hidden);
        Path adapterDir = a.write(tmp.resolve("adapter"));
        Path out = tmp.resolve("merged");
        convert(request(base, adapterDir, out, List.of(Formats.MERGED_16BIT), QuantOptions.defaults(), DType.F16));

        try (SafetensorsFile src = SafetensorsFile.open(base.resolve("model.safetensors"));
             SafetensorsFile merged = SafetensorsFile.open(out.resolve("model.safetensors"));
             LoraAdapter adapter = LoraAdapter.open(adapterDir)) {
            for (LoraModule m : adapter.modules().values()) {
                TensorInfo w = src.header().tensor(m.baseWeightName());
                float scale = (float) m.scale();
                float expectedScale = (float) ((m.module().endsWith("o_proj") ? 3.0 : 8.0) / Math.sqrt(m.rank()));
                assertEquals(expectedScale, scale, 0f, m.module() + " scale (rslora, patterns)");
                float[] expected = reference(read(src, w.name()), adapter.readFloats(m.a()), adapter.readFloats(m.b()), m.rank(),
                        (int) w.dim(0), (int) w.dim(1), scale, null, DType.F16);
                assertEquals(DType.F16, merged.header().tensor(w.name()).dtype());
                assertArrayEquals(expected, read(merged, w.name()), 0f, m.module());
            }
            float[] bias = read(src, "model.layers.0.mlp.down_proj.bias");
            float[] loraBias = adapter.readFloats(adapter.modules().get("model.layers.0.mlp.down_proj").bias());
            float s = (float) adapter.modules().get("model.layers.0.mlp.down_proj").scale();
            float[] expectedBias = new float[bias.length];
            for (int i = 0; i < bias.length; i++) {
                expectedBias[i] = DtypeEncoding.round(DType.F16, bias[i] + loraBias[i] * s);
            }
            assertArrayEquals(expectedBias, read(merged, "model.layers.0.mlp.down_proj.bias"), 0f, "lora_bias");
            float[] head = adapter.readFloats(adapter.replacedTensors().get("lm_head.weight"));
            for (int i = 0; i < head.length; i++) {
                head[i] = DtypeEncoding.round(DType.F16, head[i]);
            }
            assertArrayEquals(head, read(merged, "lm_head.weight"), 0f, "modules_to_save");
            float[] norm = read(src, "model.norm.weight");
            for (int i = 0; i < norm.length; i++) {
                norm[i] = DtypeEncoding.round(DType.F16, norm[i]);
            }
            assertArrayEquals(norm, read(merged, "model.norm.weight"), 0f, "--dtype converts untouched tensors too");
        }
        assertTrue(Files.readString(out.resolve("config.json")).contains("\"dtype\": \"float16\""));
    }

    @Test
    void doraAndFanInFanOutMergeAsDefined() throws IOException {
        Random rnd = new Random(5);
        int in = 24;
        int out = 40;
        // a DoRA module on a Linear [out, in]; a fan_in_fan_out adapter on a Conv1D-style [in, out]
        for (boolean dora : new boolean[] {true, false}) {
            boolean fifo = !dora;
            long[] shape = fifo ? new long[] {in, out} : new long[] {out, in};
            TensorFileBuilder b = new TensorFileBuilder();
            b.filled("h.0.attn.c_attn.weight", DType.BF16, shape, i -> rnd.nextGaussian() * 0.02);
            Path base = tmp.resolve("base-" + dora);
            Files.createDirectories(base);
            b.write(base.resolve("model.safetensors"));
            Files.writeString(base.resolve("config.json"), "{\"model_type\": \"gpt2\"}");
            AdapterBuilder a = new AdapterBuilder().set("target_modules", List.of("c_attn")).set("use_dora", dora)
                    .set("fan_in_fan_out", fifo).lora("h.0.attn.c_attn", 8, in, out);
            if (dora) {
                a.tensor(AdapterBuilder.P + "h.0.attn.c_attn.lora_magnitude_vector", out);
            }
            Path adapterDir = a.write(tmp.resolve("adapter-" + dora));
            Path target = tmp.resolve("merged-" + dora);
            convert(request(base, adapterDir, target, List.of(Formats.MERGED_16BIT), QuantOptions.defaults(), null));
            try (SafetensorsFile src = SafetensorsFile.open(base.resolve("model.safetensors"));
                 SafetensorsFile merged = SafetensorsFile.open(target.resolve("model.safetensors"));
                 LoraAdapter adapter = LoraAdapter.open(adapterDir)) {
                LoraModule m = adapter.modules().get("h.0.attn.c_attn");
                float[] w = read(src, "h.0.attn.c_attn.weight");
                float[] av = adapter.readFloats(m.a());
                float[] bv = adapter.readFloats(m.b());
                float[] expected;
                if (fifo) {
                    // W [in, out]: W'[i][o] = W[i][o] + s * sum_k B[o][k] A[k][i]
                    expected = new float[w.length];
                    for (int i = 0; i < in; i++) {
                        for (int o = 0; o < out; o++) {
                            float acc = 0f;
                            for (int k = 0; k < 8; k++) {
                                acc = Math.fma(bv[o * 8 + k], av[k * in + i], acc);
                            }
                            expected[i * out + o] = DtypeEncoding.round(DType.BF16, w[i * out + o] + acc * (float) m.scale());
                        }
                    }
                } else {
                    expected = reference(w, av, bv, 8, out, in, (float) m.scale(), adapter.readFloats(m.magnitude()), DType.BF16);
                }
                assertArrayEquals(expected, read(merged, "h.0.attn.c_attn.weight"), 0f, dora ? "DoRA" : "fan_in_fan_out");
            }
        }
    }

    /**
     * The definition, element by element: {@code W + scale * B @ A} with the rank sum as a chain of
     * float32 fused multiply-adds; with DoRA each row then times {@code m / ||row||}; rounded once.
     */
    static float[] reference(float[] w, float[] a, float[] b, int rank, int out, int in, float scale, float[] magnitude, DType dtype) {
        float[] merged = new float[w.length];
        for (int o = 0; o < out; o++) {
            double norm = 0;
            for (int i = 0; i < in; i++) {
                float acc = 0f;
                for (int k = 0; k < rank; k++) {
                    acc = Math.fma(b[o * rank + k], a[k * in + i], acc);
                }
                merged[o * in + i] = w[o * in + i] + acc * scale;
                norm += (double) merged[o * in + i] * merged[o * in + i];
            }
            if (magnitude != null) {
                float factor = magnitude[o] / (float) Math.sqrt(norm);
                for (int i = 0; i < in; i++) {
                    merged[o * in + i] = factor * merged[o * in + i];
                }
            }
        }
        for (int i = 0; i < merged.length; i++) {
            merged[i] = DtypeEncoding.round(dtype, merged[i]);
        }
        return merged;
    }

    static float[] read(SafetensorsFile f, String name) {
        TensorInfo t = f.header().tensor(name);
        float[] out = new float[(int) t.elements()];
        HalfFloats.decode(t.dtype(), Fixtures.bytes(f, name), 0, out.length, out, 0);
        return out;
    }

    /** At most 1 ulp (one bf16 step) on at most 0.01% of elements: PEFT's GPU matmul sums in an order of its own. */
    static void assertBf16Close(Path ours, Path theirs) {
        try (SafetensorsFile a = SafetensorsFile.open(ours); SafetensorsFile b = SafetensorsFile.open(theirs)) {
            long total = 0;
            long off = 0;
            for (TensorInfo t : b.header().tensors()) {
                TensorInfo o = a.header().tensor(t.name());
                assertEquals(t.dtype(), o.dtype(), t.name());
                assertArrayEquals(t.shape(), o.shape(), t.name());
                byte[] x = Fixtures.bytes(b, t.name());
                byte[] y = Fixtures.bytes(a, t.name());
                for (int i = 0; i + 1 < x.length; i += 2) {
                    int u = (x[i] & 0xFF) | (x[i + 1] & 0xFF) << 8;
                    int v = (y[i] & 0xFF) | (y[i + 1] & 0xFF) << 8;
                    if (u != v) {
                        off++;
                        assertTrue(Math.abs(u - v) <= 1, t.name() + " element " + i / 2 + " differs by more than 1 ulp");
                    }
                    total++;
                }
            }
            assertTrue(off <= Math.max(0, total / 10000), off + " of " + total + " elements differ by 1 ulp");
        }
    }

}
