package io.quantflow.core.convert;

import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsLayout;
import io.quantflow.core.safetensors.TensorSpec;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one source shard becomes in one output: each tensor's {@link TensorRole} and the output
 * layout. With double quantization the length of each quant-state JSON depends on its offset value,
 * known only once the tensor is quantized; until then the layout reserves the longest it can be,
 * which bounds the header (see docs/adr/0001).
 */
public final class ShardPlan {
    /** Output file metadata, as transformers writes it. */
    static final Map<String, String> METADATA = Map.of("format", "pt");

    private final SourceShard shard;
    private final OutputSpec output;
    private final Map<String, TensorRole> roles = new LinkedHashMap<>();
    private final Map<String, QuantizedTensorNames> quantized = new LinkedHashMap<>();
    private final Map<String, DType> written = new HashMap<>();

    ShardPlan(SourceShard shard, OutputSpec output, ModuleSelector selector) {
        this.shard = shard;
        this.output = output;
        List<SourceTensor> byName = new ArrayList<>(shard.tensors());
        byName.sort(Comparator.comparing(SourceTensor::name));
        for (SourceTensor t : byName) {
            TensorRole role = roleOf(t, output, selector);
            roles.put(t.name(), role);
            switch (role) {
                case COPY -> written.put(t.name(), t.dtype());
                case CONVERT -> written.put(t.name(), target(t));
                case QUANTIZE -> quantized.put(t.name(), new QuantizedTensorNames(t.name(), target(t), t.shape(), output.quant()));
            }
        }
    }

    static TensorRole roleOf(SourceTensor t, OutputSpec output, ModuleSelector selector) {
        if (t.values() == null) {
            return TensorRole.COPY;
        }
        if (output.quantizes() && selector.quantize(t.name(), t.shape(), t.values().dtype())) {
            return TensorRole.QUANTIZE;
        }
        if (t.transformed() || t.stored() == null || (output.dtype() != null && output.dtype() != t.dtype())) {
            return TensorRole.CONVERT;
        }
        return TensorRole.COPY;
    }

    /** The 16-bit dtype a tensor's values are written or quantized from in this output. */
    DType target(SourceTensor t) {
        return output.dtype() != null ? output.dtype() : t.values().dtype();
    }

    public String fileName() {
        return shard.fileName();
    }

    SourceShard shard() {
        return shard;
    }

    OutputSpec output() {
        return output;
    }

    TensorRole role(String tensor) {
        return roles.get(tensor);
    }

    /** The quantized weights in name order (which is their order in the file). */
    List<QuantizedTensorNames> quantized() {
        return List.copyOf(quantized.values());
    }

    QuantizedTensorNames quantized(String tensor) {
        return quantized.get(tensor);
    }

    /** The dtype a copied or converted tensor is written in. */
    DType writtenDtype(String tensor) {
        return written.get(tensor);
    }

    /** Bytes the output tensors made from source tensor {@code tensor} take in {@code layout} (its final layout). */
    long outputBytes(String tensor, SafetensorsLayout layout) {
        QuantizedTensorNames q = quantized.get(tensor);
        if (q != null) {
            return q.specs(0).stream().mapToLong(s -> layout.entry(s.name()).byteSize()).sum();
        }
        return written.containsKey(tensor) ? layout.entry(tensor).byteSize() : 0;
    }

    /** The layout with the given quant-state lengths (absent names get their longest possible length). */
    SafetensorsLayout layout(Map<String, Integer> knownStateLengths) {
        List<TensorSpec> specs = new ArrayList<>();
        for (SourceTensor t : shard.tensors()) {
            DType d = written.get(t.name());
            if (d != null) {
                specs.add(new TensorSpec(t.name(), d, t.shape()));
            }
        }
        for (QuantizedTensorNames q : quantized.values()) {
            Integer len = knownStateLengths.get(q.quantState());
            specs.addAll(q.specs(len != null ? len : q.state(0f).maxJsonLength()));
        }
        return SafetensorsLayout.of(METADATA, specs);
    }

    SafetensorsLayout reservedLayout() {
        return layout(new HashMap<>());
    }

    /** Header bytes to reserve: enough for any quant-state lengths. */
    int reservedHeaderLength() {
        return reservedLayout().paddedHeaderLength();
    }

    /** Upper bound of the output file's size. */
    public long maxFileBytes() {
        SafetensorsLayout l = reservedLayout();
        return 8L + l.paddedHeaderLength() + l.dataLength();
    }

    public int quantizedCount() {
        return quantized.size();
    }

    public int keptCount() {
        return roles.size() - quantized.size();
    }

    public long quantizedParameters() {
        return quantized.values().stream().mapToLong(QuantizedTensorNames::elements).sum();
    }
}
