package io.quantflow.core.format.merged16bit;

import io.quantflow.core.format.AdapterUse;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.format.ShardStep;

import java.util.List;

/** {@code merged-16bit}: the adapter merged into the base, bf16 or fp16, what PEFT's {@code merge_and_unload()} saves. */
public final class Merged16bitFormat implements OutputFormat {
    public static final Merged16bitFormat INSTANCE = new Merged16bitFormat();

    private Merged16bitFormat() {
    }

    @Override
    public String id() {
        return "merged-16bit";
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
    public boolean takesDtype() {
        return true;
    }

    @Override
    public ShardStep shardStep() {
        return ShardStep.MERGE;
    }

    @Override
    public List<String> cardTags(OutputSpec output) {
        return List.of("lora", "merged");
    }

    @Override
    public String cardDescription(OutputSpec output) {
        return "A LoRA adapter merged into the base (W + scale x B A, computed in float32 and rounded once to "
                + (output.dtype() == null ? "the base's dtype" : output.dtype().torchName()) + "). It loads without a GPU.\n";
    }
}
