package io.quantflow.core.ggml;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link LlamaQuantMix} gives every tensor the type the real {@code llama-quantize} wrote: the references under
 * {@code src/test/resources/ggml/mix} are the tensors of its output files (name, shape, type in the bf16 input, type
 * written), read back with gguf-py, for models converted with {@code convert_hf_to_gguf.py} by
 * {@code scripts/reference/ggml_mix_refs.py}: the tiny-llama fixture (intermediate 688: fallbacks to F16), Llama with
 * 12 layers (use_more_bits), Llama with rows of 320 and 864 (fallbacks to Q5_0, Q5_1, Q8_0), Qwen2 with tied
 * embeddings, Qwen3, and an 8-expert Mixtral.
 */
class LlamaQuantMixTest {
    static final String[] MODELS = {"tiny-llama", "llama-12l", "llama-9l-320", "qwen2-10l-tied", "qwen3-9l", "mixtral-4l-8e"};
    static final GgufFileType[] FILE_TYPES = {GgufFileType.Q4_K_M, GgufFileType.Q5_K_M, GgufFileType.Q6_K,
        GgufFileType.Q8_0, GgufFileType.Q4_0, GgufFileType.F16, GgufFileType.BF16};

    record Reference(LlamaQuantMix.Model model, List<LlamaQuantMix.Tensor> tensors, List<GgmlType> types) {
    }

    static Stream<Arguments> references() {
        List<Arguments> out = new ArrayList<>();
        for (String m : MODELS) {
            for (GgufFileType f : FILE_TYPES) {
                out.add(Arguments.of(m, f));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("references")
    void typesAreLlamaQuantizes(String model, GgufFileType fileType) throws IOException {
        Reference ref = load(model + "." + fileType.quantizeName() + ".tsv");
        assertTrue(ref.tensors.size() > 5, "tensors in the reference");
        List<GgmlType> actual = LlamaQuantMix.types(fileType, ref.model, ref.tensors);
        for (int i = 0; i < ref.tensors.size(); i++) {
            assertEquals(ref.types.get(i), actual.get(i), model + " " + fileType + ": " + ref.tensors.get(i));
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("references")
    void llamaOrderIsTheOutputFilesOrderAndTheInputOrderDoesNotMatter(String model, GgufFileType fileType) throws IOException {
        Reference ref = load(model + "." + fileType.quantizeName() + ".tsv");
        List<String> names = ref.tensors.stream().map(LlamaQuantMix.Tensor::name).toList();
        List<String> sorted = new ArrayList<>(names);
        Collections.shuffle(sorted, new Random(names.size()));
        sorted.sort(LlamaQuantMix.LLAMA_ORDER);
        assertEquals(names, sorted, "llama-quantize writes tensors in LLAMA_ORDER");

        List<LlamaQuantMix.Tensor> shuffled = new ArrayList<>(ref.tensors);
        Collections.shuffle(shuffled, new Random(17));
        List<GgmlType> types = LlamaQuantMix.types(fileType, ref.model, shuffled);
        Map<String, GgmlType> expected = new HashMap<>();
        for (int i = 0; i < names.size(); i++) {
            expected.put(names.get(i), ref.types.get(i));
        }
        for (int i = 0; i < shuffled.size(); i++) {
            assertEquals(expected.get(shuffled.get(i).name()), types.get(i), shuffled.get(i).toString());
        }
    }

    @Test
    void everyTypeOfAMixCanBeWritten() throws IOException {
        for (String m : MODELS) {
            for (GgufFileType f : FILE_TYPES) {
                for (GgmlType t : load(m + "." + f.quantizeName() + ".tsv").types) {
                    assertTrue(GgmlQuantizers.supports(t), m + " " + f + " needs " + t);
                    assertTrue(LlamaQuantMix.possibleTypes(f).contains(t), m + " " + f + " holds " + t);
                }
            }
        }
    }

    @Test
    void useMoreBitsLayersOfA32LayerLlama() {
        // Llama-3-8B's shape: 32 layers, attn_v and ffn_down of layers 0-3, 28-31 and every third from 6 get Q6_K
        List<LlamaQuantMix.Tensor> tensors = new ArrayList<>();
        for (int l = 0; l < 32; l++) {
            tensors.add(new LlamaQuantMix.Tensor("blk." + l + ".attn_v.weight", new long[] {4096, 1024}, GgmlType.BF16));
            tensors.add(new LlamaQuantMix.Tensor("blk." + l + ".ffn_down.weight", new long[] {14336, 4096}, GgmlType.BF16));
        }
        tensors.add(new LlamaQuantMix.Tensor("output.weight", new long[] {4096, 128256}, GgmlType.BF16));
        List<GgmlType> types = LlamaQuantMix.types(GgufFileType.Q4_K_M, new LlamaQuantMix.Model("llama", 32, 32, 8, 0), tensors);
        List<Integer> q6 = new ArrayList<>();
        for (int l = 0; l < 32; l++) {
            assertEquals(types.get(2 * l), types.get(2 * l + 1), "layer " + l);
            if (types.get(2 * l) == GgmlType.Q6_K) {
                q6.add(l);
            } else {
                assertEquals(GgmlType.Q4_K, types.get(2 * l));
            }
        }
        assertEquals(List.of(0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31), q6);
        assertEquals(GgmlType.Q6_K, types.get(64));
    }

    @Test
    void seventyBillionLlamaGetsQ5KForTheOtherAttnV() {
        LlamaQuantMix.Model m70 = new LlamaQuantMix.Model("llama", 80, 64, 8, 0);
        assertTrue(m70.is70B());
        List<LlamaQuantMix.Tensor> tensors = new ArrayList<>();
        for (int l = 0; l < 80; l++) {
            tensors.add(new LlamaQuantMix.Tensor("blk." + l + ".attn_v.weight", new long[] {8192, 1024}, GgmlType.BF16));
        }
        List<GgmlType> types = LlamaQuantMix.types(GgufFileType.Q4_K_M, m70, tensors);
        assertEquals(GgmlType.Q6_K, types.get(0));
        assertEquals(GgmlType.Q5_K, types.get(10));
        assertEquals(GgmlType.Q4_K, LlamaQuantMix.types(GgufFileType.Q4_K_M,
                new LlamaQuantMix.Model("llama", 80, 64, 64, 0), tensors).get(10), "65B: no GQA, not 70B");
    }

    @Test
    void expertTensorsNeedTheirLayerInTheName() {
        List<LlamaQuantMix.Tensor> tensors = List.of(
                new LlamaQuantMix.Tensor("ffn_down_exps.weight", new long[] {256, 256, 8}, GgmlType.BF16));
        assertThrows(IllegalArgumentException.class, () -> LlamaQuantMix.types(GgufFileType.Q4_K_M,
                new LlamaQuantMix.Model("llama", 4, 4, 2, 8), tensors));
    }

    static Reference load(String file) throws IOException {
        String text;
        try (InputStream in = LlamaQuantMixTest.class.getResourceAsStream("/ggml/mix/" + file)) {
            if (in == null) {
                throw new IOException("missing test resource ggml/mix/" + file);
            }
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        String[] lines = text.split("\n");
        Map<String, String> facts = new HashMap<>();
        for (String kv : lines[0].substring(2).trim().split(" ")) {
            String[] p = kv.split("=");
            facts.put(p[0], p[1]);
        }
        LlamaQuantMix.Model model = new LlamaQuantMix.Model(facts.get("arch"), Integer.parseInt(facts.get("n_layer")),
                Integer.parseInt(facts.get("n_head")), Integer.parseInt(facts.get("n_head_kv")),
                Integer.parseInt(facts.get("n_expert")));
        List<LlamaQuantMix.Tensor> tensors = new ArrayList<>();
        List<GgmlType> types = new ArrayList<>();
        for (int i = 1; i < lines.length; i++) {
            if (lines[i].isBlank()) {
                continue;
            }
            String[] p = lines[i].split("\t");
            long[] ne = Arrays.stream(p[1].split(",")).mapToLong(Long::parseLong).toArray();
            tensors.add(new LlamaQuantMix.Tensor(p[0], ne, GgmlType.valueOf(p[2])));
            types.add(GgmlType.valueOf(p[3]));
        }
        return new Reference(model, tensors, types);
    }
}
