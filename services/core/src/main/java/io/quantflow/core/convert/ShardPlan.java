package io.quantflow.core.convert;

import io.quantflow.core.format.EncodedWeight;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.format.TensorRole;
import io.quantflow.core.format.WeightCodec;
import io.quantflow.core.model.SourceShard;
import io.quantflow.core.model.SourceTensor;
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
 * layout. A codec may write a tensor whose length is known only once its weight is encoded (bitsandbytes'
 * quant-state JSON holds the double-quantization offset); until then the layout reserves the longest it can
 * be, which bounds the header (see docs/adr/0001).
 */
public final class ShardPlan {
    /** Output file metadata, as transformers writes it. */
    static final Map<String, String> METADATA = Map.of("format", "pt");

    private final SourceShard shard;
    private final OutputSpec output;
    private final Map<String, TensorRole> roles = new LinkedHashMap<>();
    private final WeightCodec codec;
    private final Map<String, EncodedWeight> quantized = new LinkedHashMap<>();
    private final Map<String, DType> written = new HashMap<>();

    ShardPlan(SourceShard shard, OutputSpec output, ModuleSelector selector) {
        this.shard = shard;
        this.output = output;
        this.codec = output.format().codec(output);
        List<SourceTensor> byName = new ArrayList<>(shard.tensors());
        byName.sort(Comparator.comparing(SourceTensor::name));
        for (SourceTensor t : byName) {
            TensorRole role = roleOf(t, output, selector);
            roles.put(t.name(), role);
            switch (role) {
                case COPY -> written.put(t.name(), t.dtype());
                case CONVERT -> written.put(t.name(), target(t));
                case QUANTIZE -> quantized.put(t.name(), codec.weight(t.name(), target(t), t.shape()));
            }
        }
    }

    static TensorRole roleOf(SourceTensor t, OutputSpec output, ModuleSelector selector) {
        if (t.values() == null) {
            return TensorRole.COPY;
        }
        boolean quantizable = output.quantizes() && selector.quantize(t.name(), t.shape(), t.values().dtype());
        boolean changed = t.transformed() || t.stored() == null;
        boolean retyped = output.dtype() != null && output.dtype() != t.dtype();
        return output.format().role(quantizable, changed, retyped);
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

    /** The codec of the weights this output quantizes, or null when it quantizes none. */
    WeightCodec codec() {
        return codec;
    }

    /** The quantized weights in name order (which is their order in the file). */
    List<EncodedWeight> encoded() {
        return List.copyOf(quantized.values());
    }

    /** A weight as this output encodes it, or null when it does not quantize it. */
    EncodedWeight encoded(String tensor) {
        return quantized.get(tensor);
    }

    /** The dtype a copied or converted tensor is written in. */
    DType writtenDtype(String tensor) {
        return written.get(tensor);
    }

    /** Bytes the output tensors made from source tensor {@code tensor} take in {@code layout} (its final layout). */
    long outputBytes(String tensor, SafetensorsLayout layout) {
        EncodedWeight q = quantized.get(tensor);
        if (q != null) {
            return q.specs(0).stream().mapToLong(s -> layout.entry(s.name()).byteSize()).sum();
        }
        return written.containsKey(tensor) ? layout.entry(tensor).byteSize() : 0;
    }

    /** The layout with the given lengths of late tensors (absent names get their longest possible length). */
    SafetensorsLayout layout(Map<String, Integer> knownLateLengths) {
        List<TensorSpec> specs = new ArrayList<>();
        for (SourceTensor t : shard.tensors()) {
            DType d = written.get(t.name());
            if (d != null) {
                specs.add(new TensorSpec(t.name(), d, t.shape()));
            }
        }
        for (EncodedWeight q : quantized.values()) {
            Integer len = q.lateTensor() == null ? null : knownLateLengths.get(q.lateTensor());
            specs.addAll(q.specs(len != null ? len : q.maxLateLength()));
        }
        return SafetensorsLayout.of(METADATA, specs);
    }

    SafetensorsLayout reservedLayout() {
        return layout(new HashMap<>());
    }

    /** Header bytes to reserve: enough for any lengths of the late tensors. */
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
        return quantized.values().stream().mapToLong(EncodedWeight::elements).sum();
    }
}
