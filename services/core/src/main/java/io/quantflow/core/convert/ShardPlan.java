package io.quantflow.core.convert;

import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.SafetensorsLayout;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.safetensors.TensorSpec;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What one source shard becomes: which tensors are quantized, which are copied, and the output
 * layout. With double quantization the length of each quant-state JSON depends on its offset value,
 * known only once the tensor is quantized; until then the layout reserves the longest it can be,
 * which bounds the header (see {@link #reservedHeaderLength()}).
 */
public final class ShardPlan {
    /** Output file metadata, as transformers writes it. */
    static final Map<String, String> METADATA = Map.of("format", "pt");

    private final String fileName;
    private final SafetensorsFile source;
    private final List<TensorInfo> copied;
    private final List<QuantizedTensorNames> quantized;

    ShardPlan(String fileName, SafetensorsFile source, ModuleSelector selector, QuantOptions options) {
        this.fileName = fileName;
        this.source = source;
        List<TensorInfo> copied = new ArrayList<>();
        List<QuantizedTensorNames> quantized = new ArrayList<>();
        for (TensorInfo t : source.header().tensors()) {
            if (selector.quantize(t)) {
                quantized.add(new QuantizedTensorNames(t, options));
            } else {
                copied.add(t);
            }
        }
        quantized.sort(Comparator.comparing(QuantizedTensorNames::packed));
        this.copied = List.copyOf(copied);
        this.quantized = List.copyOf(quantized);
    }

    public String fileName() {
        return fileName;
    }

    SafetensorsFile source() {
        return source;
    }

    List<TensorInfo> copied() {
        return copied;
    }

    List<QuantizedTensorNames> quantized() {
        return quantized;
    }

    /** The layout with the given quant-state lengths (absent names get their longest possible length). */
    SafetensorsLayout layout(Map<String, Integer> knownStateLengths) {
        List<TensorSpec> specs = new ArrayList<>();
        for (TensorInfo t : copied) {
            specs.add(new TensorSpec(t.name(), t.dtype(), t.shape()));
        }
        for (QuantizedTensorNames q : quantized) {
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

    public long sourceBytes() {
        return source.header().dataLength();
    }

    public int quantizedCount() {
        return quantized.size();
    }

    public int copiedCount() {
        return copied.size();
    }

    public long quantizedParameters() {
        return quantized.stream().mapToLong(QuantizedTensorNames::elements).sum();
    }
}
