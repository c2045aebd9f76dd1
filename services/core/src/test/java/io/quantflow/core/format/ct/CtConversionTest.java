package io.quantflow.core.format.ct;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quantflow.core.Fixtures;
import io.quantflow.core.convert.ConversionOptions;
import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.target.IfExists;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tiny Llama converted to each compressed-tensors format through the converter, against the reference
 * (scripts/reference/ct_reference.py): the same quantized tensors byte for byte with the same names, dtypes and
 * shapes; every other tensor as the source has it; config.json's {@code quantization_config} as llm-compressor
 * writes it; the dequantized weights within the scheme's error of the 16-bit model.
 */
class CtConversionTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"ct-fp8-dynamic", "ct-fp8-block", "ct-nvfp4a16"})
    void tinyLlamaMatchesReference(String id) throws IOException {
        CtFormat format = (CtFormat) Formats.parse(id);
        CtScheme scheme = format.scheme();
        Path out = convert(format, List.of());
        Path source = Fixtures.path("tiny-llama/base-bf16/model.safetensors");
        Path reference = CtReference.file("tiny-llama-" + scheme.name() + ".safetensors");
        Map<String, byte[]> quantized = new HashMap<>();
        try (SafetensorsFile ours = SafetensorsFile.open(out.resolve("model.safetensors"));
             SafetensorsFile ref = SafetensorsFile.open(reference);
             SafetensorsFile src = SafetensorsFile.open(source)) {
            Set<String> expected = new TreeSet<>();
            ref.header().tensors().forEach(t -> expected.add(t.name()));
            Set<String> quantizedSources = new TreeSet<>();
            for (String n : expected) {
                quantizedSources.add(n.substring(0, n.lastIndexOf('.')) + ".weight");
            }
            for (TensorInfo t : src.header().tensors()) {
                if (!quantizedSources.contains(t.name())) {
                    expected.add(t.name());
                }
            }
            Set<String> ourNames = new TreeSet<>();
            ours.header().tensors().forEach(t -> ourNames.add(t.name()));
            assertEquals(expected, ourNames);
            for (TensorInfo t : ours.header().tensors()) {
                boolean fromReference = ref.header().tensors().stream().anyMatch(r -> r.name().equals(t.name()));
                SafetensorsFile theirs = fromReference ? ref : src;
                TensorInfo r = theirs.header().tensor(t.name());
                assertEquals(r.dtype(), t.dtype(), t.name());
                assertArrayEquals(r.shape(), t.shape(), t.name());
                byte[] b = Fixtures.bytes(ours, t.name());
                assertArrayEquals(Fixtures.bytes(theirs, t.name()), b, t.name());
                quantized.put(t.name(), b);
            }
            // the decoder holds every quantized weight within the scheme's error of the 16-bit one
            for (String w : quantizedSources) {
                TensorInfo s = src.header().tensor(w);
                float[] x = CtReference.decode(DType.BF16, Fixtures.bytes(src, w));
                double rms = CtDecoder.relativeRms(scheme, DType.BF16, quantized, w, s.shape(), x);
                assertTrue(rms < CtCodecTest.bound(scheme), w + ": " + rms);
            }
        }
        JsonNode config = JSON.readTree(out.resolve("config.json").toFile());
        JsonNode expectedConfig = JSON.readTree(CtReference.file("tiny-llama-" + scheme.name() + ".quantization_config.json").toFile());
        assertEquals(expectedConfig, config.get("quantization_config"));
        JsonNode source16 = JSON.readTree(Fixtures.path("tiny-llama/base-bf16/config.json").toFile());
        ((com.fasterxml.jackson.databind.node.ObjectNode) config).remove("quantization_config");
        assertEquals(source16, config, "the rest of config.json is the source's");
        Manifest m = Manifest.read(out.resolve(Manifest.FILE_NAME));
        assertEquals(14, m.output().quantizedTensors());
        // the manifest's per-weight error is the decoder's
        for (io.quantflow.core.quality.TensorQuality t : m.quality().tensors()) {
            if (t.quantized()) {
                assertEquals(scheme == CtScheme.NVFP4A16 ? "nvfp4" : "fp8-e4m3", t.storedAs(), t.name());
                try (SafetensorsFile src = SafetensorsFile.open(source)) {
                    float[] x = CtReference.decode(DType.BF16, Fixtures.bytes(src, t.name()));
                    double rms = CtDecoder.relativeRms(scheme, DType.BF16, quantized, t.name(), src.header().tensor(t.name()).shape(), x);
                    // the Vector API path sums the squares in float lanes: the same to about 1e-6
                    assertEquals(rms, t.relativeRms(), 1e-9 + rms * 1e-5, t.name());
                }
            }
        }
        assertEquals(14, m.quality().tensors().stream().filter(io.quantflow.core.quality.TensorQuality::quantized).count());
        assertTrue(Files.readString(out.resolve("README.md")).contains("vllm serve"));
    }

    @Test
    void skippedModulesStayAndAreIgnored() throws IOException {
        Path out = convert(CtFormat.FP8_DYNAMIC, List.of("mlp"));
        try (SafetensorsFile ours = SafetensorsFile.open(out.resolve("model.safetensors"))) {
            TensorInfo down = ours.header().tensor("model.layers.0.mlp.down_proj.weight");
            assertEquals(DType.BF16, down.dtype());
            assertEquals(DType.F8_E4M3, ours.header().tensor("model.layers.0.self_attn.q_proj.weight").dtype());
            assertTrue(ours.header().tensors().stream().noneMatch(t -> t.name().equals("model.layers.0.mlp.down_proj.weight_scale")));
        }
        JsonNode ignore = JSON.readTree(out.resolve("config.json").toFile()).path("quantization_config").path("ignore");
        assertEquals(JSON.readTree("[\"lm_head\", \"re:(.*\\\\.)?mlp(\\\\..*)?$\"]"), ignore);
        assertEquals(List.of("model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                "mlp", "up_proj", "gate_proj"), CtFormat.FP8_BLOCK.keptTogether(List.of("model.layers.0.self_attn.k_proj", "mlp", "up_proj")));
        assertEquals(8, Manifest.read(out.resolve(Manifest.FILE_NAME)).output().quantizedTensors());
    }

    @ParameterizedTest
    @ValueSource(strings = {"ct-fp8-dynamic", "ct-nvfp4a16"})
    void dynamicKeepsTheWorstWeightsAndIgnoresThem(String id) throws IOException {
        OutputFormat format = Formats.parse(id);
        Path base = convert(format, List.of());
        long baseline = Manifest.read(base.resolve(Manifest.FILE_NAME)).output().weightBytes();
        Path out = tmp.resolve("dyn-" + id);
        QuantOptions q = new QuantOptions(QuantType.NF4, true, 64, DType.BF16, List.of());
        new Converter().convert(new Converter.Request(Fixtures.path("tiny-llama/base-bf16"), null, out,
                ConversionOptions.of(List.of(format), q, null), IfExists.FAIL, 2)
                .withDynamic(io.quantflow.core.convert.DynamicBudget.ofBytes(baseline + 200_000)), Converter.Listener.NONE);
        Manifest m = Manifest.read(out.resolve(Manifest.FILE_NAME));
        List<String> kept = CtFormat.FP8_DYNAMIC.keptTogether(m.quality().dynamic().keptModules());
        assertTrue(!kept.isEmpty() && m.output().quantizedTensors() == 14 - kept.size(), kept.toString());
        assertTrue(m.output().weightBytes() <= baseline + 200_000);
        JsonNode ignore = JSON.readTree(out.resolve("config.json").toFile()).path("quantization_config").path("ignore");
        assertEquals(1 + kept.size(), ignore.size(), ignore.toString());
        // vLLM fuses q/k/v and gate/up: a set is kept whole or quantized whole
        try (SafetensorsFile f = SafetensorsFile.open(out.resolve("model.safetensors"))) {
            for (String layer : List.of("model.layers.0", "model.layers.1")) {
                for (List<String> set : CtFormat.FUSED.subList(0, 2)) {
                    String parent = set.size() == 3 ? ".self_attn." : ".mlp.";
                    long bf16 = set.stream().filter(s -> f.header().tensors().stream().anyMatch(t -> t.name().equals(
                            layer + parent + s + ".weight") && t.dtype() == DType.BF16)).count();
                    assertTrue(bf16 == 0 || bf16 == set.size(), layer + " " + set);
                }
            }
        }
        for (String k : kept) {
            assertTrue(ignore.toString().contains(k.replace(".", "\\\\.")), k + " in " + ignore);
        }
    }

    @Test
    void ignorePatternsMatchWhatTheSelectorSkips() {
        // vLLM and compressed-tensors match "re:" entries with Python's re.match on the module name
        String p = CtFormat.ignore(new io.quantflow.core.format.OutputSpec(CtFormat.FP8_BLOCK, "",
                new QuantOptions(QuantType.NF4, true, 64, DType.BF16, List.of("model.layers.1", "down_proj")), null)).get(1);
        java.util.regex.Pattern layer = java.util.regex.Pattern.compile(p.substring(3));
        assertTrue(layer.matcher("model.layers.1.mlp.up_proj").lookingAt());
        assertTrue(!layer.matcher("model.layers.11.mlp.up_proj").lookingAt());
        assertTrue(!layer.matcher("xmodel.layers.1.mlp.up_proj").lookingAt());
    }

    private Path convert(OutputFormat format, List<String> skip) {
        Path out = tmp.resolve("out-" + format.id());
        QuantOptions q = new QuantOptions(QuantType.NF4, true, 64, DType.BF16, skip);
        new Converter().convert(new Converter.Request(Fixtures.path("tiny-llama/base-bf16"), null, out,
                ConversionOptions.of(List.of(format), q, null), IfExists.FAIL, 2), Converter.Listener.NONE);
        return out;
    }
}
