package io.quantflow.core.format.bnb8bit;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.format.AdapterUse;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.format.ShardStep;
import io.quantflow.core.format.WeightCodec;
import io.quantflow.core.quant.QuantOptions;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code bnb-8bit}: a bitsandbytes LLM.int8 checkpoint of the base model, what transformers writes after loading it
 * with {@code BitsAndBytesConfig(load_in_8bit=True)}: int8 weights with one float32 scale a row ({@code SCB}).
 */
public final class Bnb8bitFormat implements OutputFormat {
    public static final Bnb8bitFormat INSTANCE = new Bnb8bitFormat();

    private Bnb8bitFormat() {
    }

    @Override
    public String id() {
        return "bnb-8bit";
    }

    @Override
    public AdapterUse adapterUse() {
        return AdapterUse.REFUSED;
    }

    @Override
    public String adapterRefusal(String askFor) {
        return "bnb-8bit quantizes the base alone; to serve a fine-tune, " + askFor + " merged-16bit and convert its output";
    }

    @Override
    public boolean quantizes() {
        return true;
    }

    @Override
    public boolean acceptsQuantizedBase() {
        return false;
    }

    @Override
    public String quantizedBaseRefusal() {
        return "bnb-8bit starts from the 16-bit model";
    }

    @Override
    public WeightCodec codec(OutputSpec output) {
        return new Bnb8bitCodec();
    }

    @Override
    public ShardStep shardStep() {
        return ShardStep.QUANTIZE;
    }

    @Override
    public String quantizedAs(OutputSpec output) {
        return "int8";
    }

    @Override
    public ObjectNode config(ObjectNode sourceConfig, OutputSpec output) {
        ObjectNode config = OutputFormat.super.config(sourceConfig, output);
        config.set("quantization_config", quantizationConfig(output.quant()));
        return config;
    }

    /**
     * The {@code quantization_config} of {@code BitsAndBytesConfig(load_in_8bit=True)} as transformers writes it (the
     * 4-bit fields at their defaults); {@code llm_int8_skip_modules} null unless modules are kept, then them and lm_head.
     */
    static ObjectNode quantizationConfig(QuantOptions o) {
        ObjectNode q = JsonNodeFactory.instance.objectNode();
        q.put("_load_in_4bit", false);
        q.put("_load_in_8bit", true);
        q.put("bnb_4bit_compute_dtype", "float32");
        q.put("bnb_4bit_quant_storage", "uint8");
        q.put("bnb_4bit_quant_type", "fp4");
        q.put("bnb_4bit_use_double_quant", false);
        q.put("llm_int8_enable_fp32_cpu_offload", false);
        q.put("llm_int8_has_fp16_weight", false);
        if (o == null || o.skipModules().isEmpty()) {
            q.putNull("llm_int8_skip_modules");
        } else {
            List<String> skip = new ArrayList<>(o.skipModules());
            if (!skip.contains("lm_head")) {
                skip.add("lm_head");
            }
            skip.forEach(q.putArray("llm_int8_skip_modules")::add);
        }
        q.put("llm_int8_threshold", 6.0);
        q.put("load_in_4bit", false);
        q.put("load_in_8bit", true);
        q.put("quant_method", "bitsandbytes");
        return q;
    }

    @Override
    public List<String> cardTags(OutputSpec output) {
        return List.of("bitsandbytes", "8-bit", "int8");
    }

    @Override
    public String cardDescription(OutputSpec output) {
        return "A bitsandbytes 8-bit (LLM.int8) checkpoint: int8 weights with one float32 scale a row (SCB), outlier"
                + " threshold 6.0 at run time; kept in 16 bit: lm_head, embeddings and norms"
                + (output.quant() == null || output.quant().skipModules().isEmpty() ? "" : ", " + String.join(", ", output.quant().skipModules()))
                + ". It is what transformers writes after loading the base model with BitsAndBytesConfig(load_in_8bit=True).\n";
    }
}
