package io.quantflow.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.quant.Bnb4bitWeight;
import io.quantflow.core.safetensors.TensorInfo;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The model the outputs are made from, shard by shard: the source checkpoint's tensors as the
 * outputs see them. A bitsandbytes 4-bit checkpoint is seen as its 16-bit model: each packed weight
 * and its companions become one tensor whose values are dequantized.
 */
public final class SourceModel {
    private SourceModel() {
    }

    /** Whether config.json says the checkpoint is a bitsandbytes 4-bit one; refuses other quantizations. */
    public static boolean isBnb4bit(ObjectNode config) {
        JsonNode q = config.get("quantization_config");
        if (q == null || q.isNull()) {
            return false;
        }
        String method = q.path("quant_method").asText("");
        boolean fourBit = q.path("load_in_4bit").asBoolean(false) || q.path("_load_in_4bit").asBoolean(false);
        if (method.equals("bitsandbytes") && fourBit) {
            return true;
        }
        throw QuantflowException.of(Reason.QUANTIZATION_UNSUPPORTED, "the source is quantized with "
                + (method.isEmpty() ? "an unknown method" : method + (method.equals("bitsandbytes") ? " 8-bit" : ""))
                + "; quantflow reads 16-bit models and bitsandbytes 4-bit ones");
    }

    /** The shards' tensors as they are stored. */
    public static List<SourceShard> plain(List<Checkpoint.Shard> shards) {
        List<SourceShard> out = new ArrayList<>();
        for (Checkpoint.Shard s : shards) {
            List<SourceTensor> tensors = new ArrayList<>();
            for (TensorInfo t : s.file().header().tensors()) {
                tensors.add(SourceTensor.plain(s.file(), t));
            }
            out.add(new SourceShard(s.fileName(), s.file(), List.copyOf(tensors)));
        }
        return out;
    }

    /**
     * A 4-bit model's tensors with each 4-bit weight as its dequantized 16-bit tensor.
     *
     * @param source the model, for messages
     * @throws QuantflowException INVALID_CHECKPOINT when no shard holds a 4-bit weight
     */
    public static List<SourceShard> dequantized(String source, List<Checkpoint.Shard> shards) {
        List<SourceShard> out = shards.stream().map(SourceModel::dequantized).toList();
        if (out.stream().flatMap(s -> s.tensors().stream()).noneMatch(t -> t.values() instanceof DequantizedValues)) {
            throw QuantflowException.of(Reason.NO_4BIT_WEIGHTS, source
                    + ": config.json says bitsandbytes 4-bit but no shard holds a 4-bit weight");
        }
        return out;
    }

    /** One shard of a 4-bit model, dequantized as above; a shard may hold no 4-bit weight (embeddings, say). */
    public static SourceShard dequantized(Checkpoint.Shard s) {
        Map<String, Bnb4bitWeight> found = Bnb4bitWeight.find(s.file());
        Set<String> companions = new HashSet<>();
        for (Bnb4bitWeight w : found.values()) {
            for (TensorInfo t : s.file().header().tensors()) {
                if (t.name().startsWith(w.name() + ".")) {
                    companions.add(t.name());
                }
            }
        }
        List<SourceTensor> tensors = new ArrayList<>();
        for (TensorInfo t : s.file().header().tensors()) {
            Bnb4bitWeight w = found.get(t.name());
            if (w != null) {
                tensors.add(new SourceTensor(w.name(), w.dtype(), w.shape(), null, new DequantizedValues(s.file(), w), true));
            } else if (!companions.contains(t.name())) {
                tensors.add(SourceTensor.plain(s.file(), t));
            }
        }
        return new SourceShard(s.fileName(), s.file(), List.copyOf(tensors));
    }
}
