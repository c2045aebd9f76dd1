package io.quantflow.core.model;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.lora.LoraAdapter;
import io.quantflow.core.lora.LoraModule;
import io.quantflow.core.merge.DeltaApplier;
import io.quantflow.core.merge.LoraDelta;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.TensorInfo;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Applies a LoRA adapter to the source model as PEFT's {@code merge_and_unload} does: every weight
 * the adapter has a LoRA for gets {@code W + scale * B @ A} (DoRA-scaled when the module is DoRA),
 * every bias with a {@code lora_B} bias gets {@code b + scale * bias}, every {@code modules_to_save}
 * tensor is replaced by the adapter's copy; all rounded once to the 16-bit dtype. The adapter's
 * factors are read when their tensor comes up and dropped when it is written.
 */
public final class AdapterMerge {
    private AdapterMerge() {
    }

    /**
     * Merges the adapter into the whole model, first checking that every tensor it changes is there
     * with the shape it expects.
     *
     * @param dtype the dtype merged tensors are rounded to; null keeps each tensor's own
     */
    public static List<SourceShard> apply(List<SourceShard> shards, LoraAdapter adapter, DType dtype, DeltaApplier applier) {
        adapter.validateAgainstShapes(shapes(shards));
        return merge(shards, adapter, dtype, applier);
    }

    /**
     * Merges the adapter into some shards of the model (one, in the pipeline): the tensors it changes
     * that are in them are checked; the others may be in other shards (checking the whole model is the
     * job of whoever splits it).
     */
    public static List<SourceShard> applyToPart(List<SourceShard> shards, LoraAdapter adapter, DType dtype, DeltaApplier applier) {
        adapter.validateAgainstPart(shapes(shards));
        return merge(shards, adapter, dtype, applier);
    }

    private static Map<String, long[]> shapes(List<SourceShard> shards) {
        Map<String, long[]> shapes = new HashMap<>();
        for (SourceShard s : shards) {
            for (SourceTensor t : s.tensors()) {
                shapes.put(t.name(), t.shape());
            }
        }
        return shapes;
    }

    private static List<SourceShard> merge(List<SourceShard> shards, LoraAdapter adapter, DType dtype, DeltaApplier applier) {
        String init = adapter.baseModifyingInit();
        if (init != null) {
            throw QuantflowException.of(Reason.ADAPTER_REWROTE_BASE, "the adapter was trained with init_lora_weights=" + init
                    + ", which rewrote the base model's weights; merged into this base it gives a different model"
                    + " (re-save it with PEFT's path_initial_model_for_weight_conversion to make it a plain LoRA)");
        }
        Map<String, LoraModule> byWeight = new HashMap<>();
        Map<String, LoraModule> byBias = new HashMap<>();
        for (LoraModule m : adapter.modules().values()) {
            if (m.dora() && m.transposed()) {
                throw QuantflowException.of(Reason.ADAPTER_LAYER_UNSUPPORTED, "adapter module " + m.module()
                        + ": DoRA on a " + (m.embedding() ? "embedding" : "fan_in_fan_out layer") + " is not supported");
            }
            byWeight.put(m.baseWeightName(), m);
            if (m.bias() != null) {
                byBias.put(m.baseBiasName(), m);
            }
        }
        Map<String, TensorInfo> replaced = adapter.replacedTensors();
        List<SourceShard> out = new ArrayList<>();
        for (SourceShard s : shards) {
            List<SourceTensor> tensors = new ArrayList<>();
            for (SourceTensor t : s.tensors()) {
                tensors.add(merged(t, adapter, dtype, applier, byWeight, byBias, replaced));
            }
            out.add(new SourceShard(s.fileName(), s.file(), List.copyOf(tensors)));
        }
        return out;
    }

    private static SourceTensor merged(SourceTensor t, LoraAdapter adapter, DType dtype, DeltaApplier applier,
                                       Map<String, LoraModule> byWeight, Map<String, LoraModule> byBias,
                                       Map<String, TensorInfo> replaced) {
        if (t.values() == null) {
            return t;
        }
        DType d = dtype != null ? dtype : t.values().dtype();
        TensorInfo replacement = replaced.get(t.name());
        if (replacement != null) {
            return transformed(t, new ReplacedValues(TensorValues.stored(adapter.file(), replacement), d));
        }
        LoraModule m = byWeight.get(t.name());
        if (m != null) {
            return transformed(t, new MergedValues(t.values(), d, () -> weightUpdate(adapter, m), applier));
        }
        LoraModule b = byBias.get(t.name());
        if (b != null) {
            return transformed(t, new MergedValues(t.values(), d, () -> biasUpdate(adapter, b), applier));
        }
        return t;
    }

    private static SourceTensor transformed(SourceTensor t, TensorValues values) {
        return new SourceTensor(t.name(), t.dtype(), t.shape(), t.stored(), values, true);
    }

    private static MergedValues.Update weightUpdate(LoraAdapter adapter, LoraModule m) {
        float[] a = adapter.readFloats(m.a());
        float[] b = adapter.readFloats(m.b());
        float scale = (float) m.scale();
        int in = Math.toIntExact(m.inFeatures());
        int out = Math.toIntExact(m.outFeatures());
        LoraDelta delta = m.embedding()
                ? LoraDelta.embedding(a, b, m.rank(), in, out, scale)
                : LoraDelta.linear(a, b, m.rank(), in, out, scale, m.fanInFanOut());
        float[] magnitude = m.dora() ? adapter.readFloats(m.magnitude()) : null;
        return update(delta, magnitude, null, scale);
    }

    private static MergedValues.Update biasUpdate(LoraAdapter adapter, LoraModule m) {
        return update(null, null, adapter.readFloats(m.bias()), (float) m.scale());
    }

    private static MergedValues.Update update(LoraDelta delta, float[] magnitude, float[] bias, float scale) {
        return new MergedValues.Update() {
            @Override
            public LoraDelta delta() {
                return delta;
            }

            @Override
            public float[] magnitude() {
                return magnitude;
            }

            @Override
            public float[] bias() {
                return bias;
            }

            @Override
            public float scale() {
                return scale;
            }
        };
    }
}
