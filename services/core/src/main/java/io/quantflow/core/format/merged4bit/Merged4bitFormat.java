package io.quantflow.core.format.merged4bit;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.format.AdapterUse;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.format.ShardStep;
import io.quantflow.core.format.WeightCodec;
import io.quantflow.core.format.bnb4bit.Bnb4bitCodec;
import io.quantflow.core.format.bnb4bit.Bnb4bitFormat;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code merged-4bit}: the adapter merged into the base in 16 bit, then quantized as {@code bnb-4bit}
 * (never merged into already-quantized weights: a 4-bit base is dequantized first).
 */
public final class Merged4bitFormat implements OutputFormat {
    public static final Merged4bitFormat INSTANCE = new Merged4bitFormat();

    private Merged4bitFormat() {
    }

    @Override
    public String id() {
        return "merged-4bit";
    }

    @Override
    public AdapterUse adapterUse() {
        return AdapterUse.REQUIRED;
    }

    @Override
    public boolean mergesAdapter() {
        return true;
    }

    @Override
    public boolean quantizes() {
        return true;
    }

    @Override
    public boolean takesDtype() {
        return true;
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
        return Bnb4bitFormat.withQuantizationConfig(OutputFormat.super.config(sourceConfig, output), output.quant());
    }

    @Override
    public List<String> cardTags(OutputSpec output) {
        List<String> tags = new ArrayList<>(Bnb4bitFormat.tags(output.quant()));
        tags.addAll(List.of("lora", "merged"));
        return tags;
    }

    @Override
    public String cardDescription(OutputSpec output) {
        return "A LoRA adapter merged into the base in 16 bit, then quantized to bitsandbytes 4-bit: "
                + Bnb4bitFormat.describe(output.quant()) + ".\n";
    }
}
