package io.quantflow.core.format.bnb4bit;

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
 * {@code bnb-4bit}: a bitsandbytes 4-bit checkpoint of the base model, what transformers writes after
 * loading it with a {@code BitsAndBytesConfig(load_in_4bit=True)}.
 */
public final class Bnb4bitFormat implements OutputFormat {
    public static final Bnb4bitFormat INSTANCE = new Bnb4bitFormat();

    private Bnb4bitFormat() {
    }

    @Override
    public String id() {
        return "bnb-4bit";
    }

    @Override
    public AdapterUse adapterUse() {
        return AdapterUse.REFUSED;
    }

    @Override
    public String adapterRefusal(String askFor) {
        return "bnb-4bit quantizes the base alone; to merge the adapter and quantize, " + askFor + " merged-4bit";
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
        return "bnb-4bit starts from the 16-bit model (with an adapter, merged-16bit and merged-4bit take a 4-bit base)";
    }

    @Override
    public WeightCodec codec(OutputSpec output) {
        return new Bnb4bitCodec(output.quant());
    }

    @Override
    public ShardStep shardStep() {
        return ShardStep.QUANTIZE;
    }

    @Override
    public ObjectNode config(ObjectNode sourceConfig, OutputSpec output) {
        return withQuantizationConfig(OutputFormat.super.config(sourceConfig, output), output.quant());
    }

    @Override
    public List<String> cardTags(OutputSpec output) {
        return tags(output.quant());
    }

    @Override
    public String cardDescription(OutputSpec output) {
        return "A bitsandbytes 4-bit checkpoint: " + describe(output.quant())
                + ". It is what transformers writes after loading the base model with this quantization config.\n";
    }

    /** config.json with the {@code quantization_config} transformers writes for these options. */
    public static ObjectNode withQuantizationConfig(ObjectNode config, QuantOptions quant) {
        config.set("quantization_config", QuantizationConfig.of(quant));
        return config;
    }

    /** The model card tags of a bitsandbytes 4-bit output. */
    public static List<String> tags(QuantOptions quant) {
        return List.of("bitsandbytes", "4-bit", quant.quantType().id());
    }

    /** The options as the model card says them. */
    public static String describe(QuantOptions q) {
        List<String> parts = new ArrayList<>();
        parts.add(q.quantType().id());
        parts.add(q.doubleQuant() ? "double quantization" : "no double quantization");
        parts.add("blocksize " + q.blocksize());
        parts.add("compute dtype " + q.computeDtype().torchName());
        List<String> kept = new ArrayList<>(List.of("lm_head"));
        q.skipModules().stream().filter(m -> !kept.contains(m)).forEach(kept::add);
        parts.add("kept in 16 bit: " + String.join(", ", kept) + ", embeddings and norms");
        return String.join(", ", parts);
    }
}
