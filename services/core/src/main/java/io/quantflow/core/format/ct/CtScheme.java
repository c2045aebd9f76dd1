package io.quantflow.core.format.ct;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.format.WeightCodec;

import java.util.List;
import java.util.function.Supplier;

/**
 * The compressed-tensors presets quantflow writes (compressed-tensors 0.18.0's {@code PRESET_SCHEMES}), with the
 * {@code quantization_config} llm-compressor's {@code model_free_ptq} writes for them: the scheme's
 * {@code QuantizationArgs} as pydantic dumps them (observer {@code memoryless_minmax} for weights, none for dynamic
 * activations), the format compressed-tensors infers, status {@code compressed}, the compressed-tensors version.
 */
public enum CtScheme {
    /** FP8 weights per output channel, FP8 activations per token, dynamic. */
    FP8_DYNAMIC("float-quantized", Fp8Codec::channel),
    /** FP8 weights per 128 x 128 block, FP8 activations per group of 128, dynamic (DeepSeek-V3 style). */
    FP8_BLOCK("float-quantized", Fp8Codec::block),
    /** NVFP4 weights (FP4 E2M1, groups of 16, FP8 scales, a float32 global scale), 16-bit activations. */
    NVFP4A16("nvfp4-pack-quantized", Nvfp4Codec::new);

    /** The compressed-tensors release whose code these outputs follow (config's {@code version}). */
    public static final String COMPRESSED_TENSORS_VERSION = "0.18.0";

    private final String format;
    private final Supplier<WeightCodec> codec;

    CtScheme(String format, Supplier<WeightCodec> codec) {
        this.format = format;
        this.codec = codec;
    }

    /** compressed-tensors' {@code CompressionFormat} of the scheme's weights. */
    public String format() {
        return format;
    }

    WeightCodec codec() {
        return codec.get();
    }

    /** config.json's {@code quantization_config}, ignoring {@code ignore} (module names or {@code re:} patterns). */
    public ObjectNode quantizationConfig(List<String> ignore) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode q = f.objectNode();
        ObjectNode groups = q.putObject("config_groups");
        ObjectNode group = groups.putObject(name());
        group.put("format", format);
        switch (this) {
            case FP8_DYNAMIC -> {
                group.set("input_activations", args(8, "token", null, null, true, null, null));
                group.set("weights", args(8, "channel", null, null, false, "memoryless_minmax", null));
            }
            case FP8_BLOCK -> {
                group.set("input_activations", args(8, "group", 128, null, true, null, null));
                group.set("weights", args(8, "block", null, List.of(128, 128), false, "memoryless_minmax", null));
            }
            case NVFP4A16 -> {
                group.putNull("input_activations");
                group.set("weights", args(4, "tensor_group", 16, null, false, "memoryless_minmax", "torch.float8_e4m3fn"));
            }
        }
        group.putNull("output_activations");
        group.putArray("targets").add("Linear");
        q.put("format", format);
        q.putNull("global_compression_ratio");
        ignore.forEach(q.putArray("ignore")::add);
        q.putNull("kv_cache_scheme");
        q.put("quant_method", "compressed-tensors");
        q.put("quantization_status", "compressed");
        q.putObject("transform_config");
        q.put("version", COMPRESSED_TENSORS_VERSION);
        return q;
    }

    private static ObjectNode args(int bits, String strategy, Integer groupSize, List<Integer> block, boolean dynamic,
                                   String observer, String scaleDtype) {
        ObjectNode a = JsonNodeFactory.instance.objectNode();
        a.putNull("actorder");
        if (block == null) {
            a.putNull("block_structure");
        } else {
            block.forEach(a.putArray("block_structure")::add);
        }
        a.put("dynamic", dynamic);
        if (groupSize == null) {
            a.putNull("group_size");
        } else {
            a.put("group_size", groupSize);
        }
        a.put("num_bits", bits);
        if (observer == null) {
            a.putNull("observer");
        } else {
            a.put("observer", observer);
        }
        a.putObject("observer_kwargs");
        if (scaleDtype == null) {
            a.putNull("scale_dtype");
        } else {
            a.put("scale_dtype", scaleDtype);
        }
        a.put("strategy", strategy);
        a.put("symmetric", true);
        a.put("type", "float");
        a.putNull("zp_dtype");
        return a;
    }
}
