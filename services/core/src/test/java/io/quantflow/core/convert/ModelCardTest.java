package io.quantflow.core.convert;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The output's README.md: Hub metadata, what was done, how to load it; the source's own card kept beside it. */
class ModelCardTest {
    @TempDir
    Path tmp;

    static ObjectNode config(String nameOrPath) {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama");
        if (nameOrPath != null) {
            c.put("_name_or_path", nameOrPath);
        }
        return c;
    }

    static final OutputSpec NF4 = new OutputSpec(Formats.BNB_4BIT, "",
            new QuantOptions(QuantType.NF4, true, 64, DType.BF16, List.of("mlp.down_proj")), null);

    @Test
    void aHubBaseIsNamedAsBaseModelWithTheQuantizationAndHowToLoadIt() throws IOException {
        ModelCard.write(tmp, config("meta-llama/Llama-3.2-1B"), NF4);
        String card = Files.readString(tmp.resolve("README.md"));
        assertTrue(card.startsWith("---\nbase_model: meta-llama/Llama-3.2-1B\nlibrary_name: transformers\ntags:\n- quantflow\n- bitsandbytes\n"), card);
        assertTrue(card.contains("# Llama-3.2-1B, bnb-4bit"), card);
        assertTrue(card.contains("nf4, double quantization, blocksize 64, compute dtype bfloat16, kept in 16 bit: lm_head, mlp.down_proj"), card);
        assertTrue(card.contains("from_pretrained(\"path/to/this/model\", device_map=\"auto\")"), card);
    }

    @Test
    void aLocalPathIsNotABaseModelAndMergedOutputsSayTheirDtype() throws IOException {
        ModelCard.write(tmp, config("/home/me/checkpoints/run-7"), new OutputSpec(Formats.MERGED_16BIT, "", null, DType.F16));
        String card = Files.readString(tmp.resolve("README.md"));
        assertFalse(card.contains("base_model:"), card);
        assertFalse(card.contains("/home/me"), "no local path leaks into the card");
        assertTrue(card.contains("# LlamaForCausalLM, merged-16bit"), card);
        assertTrue(card.contains("rounded once to float16"), card);
        assertTrue(card.contains("- lora\n- merged\n"), card);
    }

    @Test
    void theSourcesCardIsKeptAsBaseModelReadmeAndItsLicenseCarriedOver() throws IOException {
        String base = "---\nlicense: llama3.2\nlicense_name: llama3.2\nlanguage:\n- en\n---\n# Llama 3.2\nterms...\n";
        Files.writeString(tmp.resolve("README.md"), base);
        ModelCard.write(tmp, config("meta-llama/Llama-3.2-1B"), NF4);
        assertEquals(base, Files.readString(tmp.resolve(ModelCard.BASE_CARD)));
        String card = Files.readString(tmp.resolve("README.md"));
        assertTrue(card.startsWith("---\nbase_model: meta-llama/Llama-3.2-1B\nlicense: llama3.2\nlicense_name: llama3.2\nlibrary_name"), card);
        assertFalse(card.contains("language"), card);
        assertTrue(card.contains(ModelCard.BASE_CARD), card);
    }

    @Test
    void theSameConversionWritesTheSameCard() throws IOException {
        Path a = Files.createDirectory(tmp.resolve("a"));
        Path b = Files.createDirectory(tmp.resolve("b"));
        ModelCard.write(a, config("org/m"), NF4);
        ModelCard.write(b, config("org/m"), NF4);
        assertEquals(Files.readString(a.resolve("README.md")), Files.readString(b.resolve("README.md")));
    }
}
