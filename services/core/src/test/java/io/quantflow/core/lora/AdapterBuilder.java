package io.quantflow.core.lora;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.TensorFileBuilder;
import io.quantflow.core.safetensors.DType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Builds PEFT-style adapter directories for tests: an {@code adapter_config.json} shaped like the one
 * PEFT writes (only the fields that matter here) and an {@code adapter_model.safetensors} written
 * through the product's safetensors writer, with PEFT's key names.
 */
final class AdapterBuilder {
    static final ObjectMapper MAPPER = new ObjectMapper();
    static final String P = LoraAdapter.KEY_PREFIX;

    final ObjectNode config = MAPPER.createObjectNode();
    final TensorFileBuilder tensors = new TensorFileBuilder();
    private String configText;

    AdapterBuilder() {
        config.put("peft_type", "LORA");
        config.put("r", 8);
        config.put("lora_alpha", 16);
        config.putArray("target_modules").add("q_proj").add("k_proj").add("v_proj").add("o_proj")
                .add("gate_proj").add("up_proj").add("down_proj");
        config.put("fan_in_fan_out", false);
        config.put("bias", "none");
        config.put("use_rslora", false);
        config.putNull("modules_to_save");
        config.put("init_lora_weights", true);
        config.putObject("rank_pattern");
        config.putObject("alpha_pattern");
        config.putObject("loftq_config");
        config.put("lora_bias", false);
        config.put("use_dora", false);
        config.putNull("base_model_name_or_path");
        config.put("task_type", "CAUSAL_LM");
    }

    AdapterBuilder set(String key, Object value) {
        config.set(key, MAPPER.valueToTree(value));
        return this;
    }

    /** The config file's text as is, instead of the JSON object (for malformed files). */
    AdapterBuilder configText(String text) {
        this.configText = text;
        return this;
    }

    /** lora_A [r, in] and lora_B [out, r] of a Linear module, F32, small deterministic values. */
    AdapterBuilder lora(String module, int r, long in, long out) {
        return a(module, r, in).b(module, out, r);
    }

    AdapterBuilder a(String module, int r, long in) {
        return tensor(P + module + ".lora_A.weight", r, in);
    }

    AdapterBuilder b(String module, long out, int r) {
        return tensor(P + module + ".lora_B.weight", out, r);
    }

    AdapterBuilder tensor(String name, long... shape) {
        tensors.filled(name, DType.F32, shape, i -> ((i * 37 + name.length()) % 101 - 50) / 1000.0);
        return this;
    }

    Path write(Path dir) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(LoraAdapter.CONFIG_FILE),
                    configText != null ? configText : MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(config));
            tensors.write(dir.resolve(LoraAdapter.WEIGHTS_FILE));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }
}
