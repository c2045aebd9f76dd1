package io.quantflow.core.ggml;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link LlamaQuantMix} against llama.cpp's own snapshots of its type selection for real models
 * ({@code tests/snapshots/*.schema}, copied under {@code src/test/resources/ggml/mix/snapshots}): Llama 3.1 70B (80
 * layers with GQA: the 70B rule gives the other attn_v Q5_K), Qwen3 0.6B and 14B. The tensor lists are rebuilt
 * from the models' dimensions (the quantizable tensors of a dense Llama/Qwen3 block); every tensor a section does
 * not list has the section's default type.
 */
class LlamaQuantMixSnapshotTest {
    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String[] m : new String[][] {{"meta-llama-3.1-70b-instruct", "llama", "128"}, {"qwen3-0.6b", "qwen3", "128"},
            {"qwen3-14b", "qwen3", "128"}}) {
            for (GgufFileType f : new GgufFileType[] {GgufFileType.Q4_K_M, GgufFileType.Q5_K_M, GgufFileType.Q6_K,
                GgufFileType.Q8_0, GgufFileType.Q4_0, GgufFileType.F16, GgufFileType.BF16}) {
                out.add(Arguments.of(m[0], m[1], Integer.parseInt(m[2]), f));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {3}")
    @MethodSource("cases")
    void typesAreLlamaCppsSnapshot(String model, String arch, int headDim, GgufFileType fileType) throws IOException {
        String text;
        try (InputStream in = getClass().getResourceAsStream("/ggml/mix/snapshots/" + model + ".schema")) {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        Map<String, Long> dims = new HashMap<>();
        GgmlType defaultType = null;
        Map<String, GgmlType> exceptions = new HashMap<>();
        boolean inSection = false;
        for (String line : text.split("\n")) {
            line = line.trim();
            if (line.startsWith("# n_embd=")) {
                for (String kv : line.substring(2).split(", ")) {
                    String[] p = kv.split("=");
                    dims.put(p[0], Long.parseLong(p[1]));
                }
            } else if (line.startsWith("[")) {
                inSection = line.startsWith("[" + fileType.quantizeName() + "]");
                if (inSection) {
                    defaultType = type(line.substring(line.indexOf(']') + 1).trim());
                }
            } else if (inSection && !line.isEmpty()) {
                String[] p = line.split(" ");
                exceptions.put(p[0], type(p[1]));
            }
        }
        assertTrue(defaultType != null, fileType + " in " + model);
        long nEmbd = dims.get("n_embd");
        long nFf = dims.get("n_ff");
        long nVocab = dims.get("n_vocab");
        int nLayer = dims.get("n_layer").intValue();
        int nHead = dims.get("n_head").intValue();
        int nHeadKv = dims.get("n_head_kv").intValue();
        List<LlamaQuantMix.Tensor> tensors = new ArrayList<>();
        tensors.add(new LlamaQuantMix.Tensor("token_embd.weight", new long[] {nEmbd, nVocab}, GgmlType.BF16));
        tensors.add(new LlamaQuantMix.Tensor("output.weight", new long[] {nEmbd, nVocab}, GgmlType.BF16));
        for (int l = 0; l < nLayer; l++) {
            String b = "blk." + l + ".";
            tensors.add(new LlamaQuantMix.Tensor(b + "attn_q.weight", new long[] {nEmbd, (long) nHead * headDim}, GgmlType.BF16));
            tensors.add(new LlamaQuantMix.Tensor(b + "attn_k.weight", new long[] {nEmbd, (long) nHeadKv * headDim}, GgmlType.BF16));
            tensors.add(new LlamaQuantMix.Tensor(b + "attn_v.weight", new long[] {nEmbd, (long) nHeadKv * headDim}, GgmlType.BF16));
            tensors.add(new LlamaQuantMix.Tensor(b + "attn_output.weight", new long[] {(long) nHead * headDim, nEmbd}, GgmlType.BF16));
            tensors.add(new LlamaQuantMix.Tensor(b + "ffn_gate.weight", new long[] {nEmbd, nFf}, GgmlType.BF16));
            tensors.add(new LlamaQuantMix.Tensor(b + "ffn_up.weight", new long[] {nEmbd, nFf}, GgmlType.BF16));
            tensors.add(new LlamaQuantMix.Tensor(b + "ffn_down.weight", new long[] {nFf, nEmbd}, GgmlType.BF16));
        }
        for (String name : exceptions.keySet()) {
            assertTrue(tensors.stream().anyMatch(t -> t.name().equals(name)), model + " has " + name);
        }
        List<GgmlType> types = LlamaQuantMix.types(fileType, new LlamaQuantMix.Model(arch, nLayer, nHead, nHeadKv, 0), tensors);
        for (int i = 0; i < tensors.size(); i++) {
            String name = tensors.get(i).name();
            assertEquals(exceptions.getOrDefault(name, defaultType), types.get(i), model + " " + fileType + " " + name);
        }
    }

    private static GgmlType type(String ggmlName) {
        return GgmlType.valueOf(ggmlName.toUpperCase(Locale.ROOT));
    }
}
