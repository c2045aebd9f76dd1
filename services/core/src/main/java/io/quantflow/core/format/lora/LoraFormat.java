package io.quantflow.core.format.lora;

import io.quantflow.core.format.AdapterUse;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.format.ShardStep;
import io.quantflow.core.lora.LoraAdapter;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** {@code lora}: the adapter alone, validated against the base and normalised ({@link LoraExport}). */
public final class LoraFormat implements OutputFormat {
    public static final LoraFormat INSTANCE = new LoraFormat();

    private LoraFormat() {
    }

    @Override
    public String id() {
        return "lora";
    }

    @Override
    public AdapterUse adapterUse() {
        return AdapterUse.REQUIRED;
    }

    @Override
    public boolean hasWeights() {
        return false;
    }

    @Override
    public ShardStep shardStep() {
        return ShardStep.NONE;
    }

    @Override
    public List<String> cardTags(OutputSpec output) {
        return List.of("lora");
    }

    @Override
    public String cardDescription(OutputSpec output) {
        return "The LoRA adapter alone.\n";
    }

    @Override
    public void writeWithoutWeights(LoraAdapter adapter, Path dir) throws IOException {
        LoraExport.write(adapter, dir);
    }
}
