package io.quantflow.core.ggml;

import io.quantflow.core.Fixtures;
import io.quantflow.core.safetensors.SafetensorsFile;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tensors of the tiny-llama fixture quantized by both paths give the bytes the real {@code llama-quantize} wrote for
 * them (resources under {@code src/test/resources/ggml/llama-quantize}, made by
 * {@code scripts/reference/ggml_quantize_bytes.py} from the fixture converted by {@code convert_hf_to_gguf.py}):
 * attn_output (not permuted by the converter) in every file type's base type, attn_v in Q6_K (the K_M mixes'
 * use_more_bits layer), Q8_0 and Q4_0. The type of each is {@link LlamaQuantMix}'s.
 */
class GgmlLlamaQuantizeBytesTest {
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
        "Q4_K_M, blk.0.attn_output.weight, model.layers.0.self_attn.o_proj.weight, Q4_K",
        "Q4_K_M, blk.1.attn_v.weight, model.layers.1.self_attn.v_proj.weight, Q6_K",
        "Q5_K_M, blk.0.attn_output.weight, model.layers.0.self_attn.o_proj.weight, Q5_K",
        "Q5_K_M, blk.1.attn_v.weight, model.layers.1.self_attn.v_proj.weight, Q6_K",
        "Q6_K, blk.0.attn_output.weight, model.layers.0.self_attn.o_proj.weight, Q6_K",
        "Q6_K, blk.1.attn_v.weight, model.layers.1.self_attn.v_proj.weight, Q6_K",
        "Q8_0, blk.0.attn_output.weight, model.layers.0.self_attn.o_proj.weight, Q8_0",
        "Q8_0, blk.1.attn_v.weight, model.layers.1.self_attn.v_proj.weight, Q8_0",
        "Q4_0, blk.0.attn_output.weight, model.layers.0.self_attn.o_proj.weight, Q4_0",
        "Q4_0, blk.1.attn_v.weight, model.layers.1.self_attn.v_proj.weight, Q4_0",
    })
    void bothPathsGiveLlamaQuantizesBytes(String fileType, String ggufName, String hfName, GgmlType type) throws IOException {
        byte[] expected;
        String resource = "/ggml/llama-quantize/" + fileType + "." + ggufName + "." + type + ".bin.gz";
        try (InputStream in = getClass().getResourceAsStream(resource)) {
            assertTrue(in != null, "missing " + resource);
            expected = new GZIPInputStream(new ByteArrayInputStream(in.readAllBytes())).readAllBytes();
        }
        float[] values;
        long rows;
        long cols;
        try (SafetensorsFile f = SafetensorsFile.open(Fixtures.path("tiny-llama/base-bf16/model.safetensors"))) {
            byte[] bf16 = Fixtures.bytes(f, hfName);
            values = new float[bf16.length / 2];
            for (int i = 0; i < values.length; i++) {
                values[i] = Float.intBitsToFloat(((bf16[2 * i] & 0xFF) | (bf16[2 * i + 1] & 0xFF) << 8) << 16);
            }
            long[] shape = f.header().tensor(hfName).shape();
            rows = shape[0];
            cols = shape[1];
        }
        LlamaQuantMix.Model model = new LlamaQuantMix.Model("llama", 2, 4, 2, 0);
        // the mix of the whole model decides the type; attn_v's use_more_bits depends on its position among 2 layers
        java.util.List<LlamaQuantMix.Tensor> all = new java.util.ArrayList<>();
        for (int l = 0; l < 2; l++) {
            all.add(new LlamaQuantMix.Tensor("blk." + l + ".attn_output.weight", new long[] {256, 256}, GgmlType.BF16));
            all.add(new LlamaQuantMix.Tensor("blk." + l + ".attn_v.weight", new long[] {256, 128}, GgmlType.BF16));
        }
        int index = all.stream().map(LlamaQuantMix.Tensor::name).toList().indexOf(ggufName);
        assertEquals(type, LlamaQuantMix.types(GgufFileType.ofQuantizeName(fileType), model, all).get(index));

        int rowBytes = (int) type.rowBytes(cols);
        assertEquals(expected.length, rows * rowBytes);
        for (boolean scalar : new boolean[] {false, true}) {
            byte[] actual = new byte[expected.length];
            for (int r = 0; r < rows; r++) {
                if (scalar) {
                    GgmlQuantizers.quantizeScalar(type, values, (int) (r * cols), (int) cols, actual, r * rowBytes);
                } else {
                    GgmlQuantizers.quantize(type, values, (int) (r * cols), (int) cols, actual, r * rowBytes);
                }
            }
            for (int b = 0; b < expected.length; b++) {
                if (expected[b] != actual[b]) {
                    assertEquals(expected[b], actual[b], (scalar ? "scalar" : GgmlQuantizers.implementation()) + " "
                            + ggufName + " " + type + ": byte " + b + " (row " + b / rowBytes + ") differs from llama-quantize's");
                }
            }
        }
    }
}
