package io.quantflow.core.format.bnb4bit;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.quant.QuantOptions;

import java.util.ArrayList;
import java.util.List;

/**
 * The {@code quantization_config} that transformers writes into config.json for a bitsandbytes 4-bit
 * model, field for field. {@code llm_int8_skip_modules} stays null unless modules are skipped: then
 * it lists them and lm_head, because transformers replaces its default list with the given one and
 * would otherwise build lm_head as a 4-bit layer at load time.
 */
public final class QuantizationConfig {
    private QuantizationConfig() {
    }

    public static ObjectNode of(QuantOptions o) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode q = f.objectNode();
        q.put("_load_in_4bit", true);
        q.put("_load_in_8bit", false);
        q.put("bnb_4bit_compute_dtype", o.computeDtype().torchName());
        q.put("bnb_4bit_quant_storage", "uint8");
        q.put("bnb_4bit_quant_type", o.quantType().id());
        q.put("bnb_4bit_use_double_quant", o.doubleQuant());
        q.put("llm_int8_enable_fp32_cpu_offload", false);
        q.put("llm_int8_has_fp16_weight", false);
        if (o.skipModules().isEmpty()) {
            q.putNull("llm_int8_skip_modules");
        } else {
            List<String> skip = new ArrayList<>(o.skipModules());
            if (!skip.contains("lm_head")) {
                skip.add("lm_head");
            }
            skip.forEach(q.putArray("llm_int8_skip_modules")::add);
        }
        q.put("llm_int8_threshold", 6.0);
        q.put("load_in_4bit", true);
        q.put("load_in_8bit", false);
        q.put("quant_method", "bitsandbytes");
        return q;
    }
}
