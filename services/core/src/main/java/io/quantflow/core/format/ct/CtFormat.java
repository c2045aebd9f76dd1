package io.quantflow.core.format.ct;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.format.AdapterUse;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.format.ShardStep;
import io.quantflow.core.format.WeightCodec;

import java.util.ArrayList;
import java.util.List;

/**
 * A compressed-tensors checkpoint for vLLM and SGLang, what llm-compressor's {@code model_free_ptq} writes for a
 * preset scheme without calibration data: {@code ct-fp8-dynamic} (FP8_DYNAMIC), {@code ct-fp8-block} (FP8_BLOCK),
 * {@code ct-nvfp4a16} (NVFP4A16). The linear layers' weights are quantized; embeddings, norms, the output head and the
 * modules the user keeps stay as they are and are listed in the config's {@code ignore}.
 */
public final class CtFormat implements OutputFormat {
    public static final CtFormat FP8_DYNAMIC = new CtFormat("ct-fp8-dynamic", CtScheme.FP8_DYNAMIC);
    public static final CtFormat FP8_BLOCK = new CtFormat("ct-fp8-block", CtScheme.FP8_BLOCK);
    public static final CtFormat NVFP4A16 = new CtFormat("ct-nvfp4a16", CtScheme.NVFP4A16);

    private final String id;
    private final CtScheme scheme;

    private CtFormat(String id, CtScheme scheme) {
        this.id = id;
        this.scheme = scheme;
    }

    public CtScheme scheme() {
        return scheme;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public AdapterUse adapterUse() {
        return AdapterUse.REFUSED;
    }

    @Override
    public String adapterRefusal(String askFor) {
        return id + " quantizes the base alone; to serve a fine-tune, " + askFor + " merged-16bit and convert its output";
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
        return id + " starts from the 16-bit model";
    }

    @Override
    public WeightCodec codec(OutputSpec output) {
        return scheme.codec();
    }

    @Override
    public ShardStep shardStep() {
        return ShardStep.QUANTIZE;
    }

    @Override
    public ObjectNode config(ObjectNode sourceConfig, OutputSpec output) {
        ObjectNode config = OutputFormat.super.config(sourceConfig, output);
        config.set("quantization_config", scheme.quantizationConfig(ignore(output)));
        return config;
    }

    /**
     * The config's {@code ignore}: {@code lm_head} (as llm-compressor lists it), then each module the user or
     * {@code --dynamic} kept in 16 bit: as a {@code re:} pattern that matches what quantflow's module names match
     * (the module, a dotted prefix or a dotted suffix of it), so that vLLM and compressed-tensors skip the same layers.
     */
    static List<String> ignore(OutputSpec output) {
        List<String> out = new ArrayList<>(List.of("lm_head"));
        if (output.quant() != null) {
            for (String m : output.format().keptTogether(output.quant().skipModules())) {
                String entry = m.equals("lm_head") ? m : "re:(.*\\.)?" + quote(m) + "(\\..*)?$";
                if (!out.contains(entry)) {
                    out.add(entry);
                }
            }
        }
        return out;
    }

    /** The layers vLLM fuses into one (q/k/v, gate/up, w1/w3, wq_a/wkv_a_with_mqa): a kept one keeps the others. */
    static final List<List<String>> FUSED = List.of(List.of("q_proj", "k_proj", "v_proj"), List.of("gate_proj", "up_proj"),
            List.of("w1", "w3"), List.of("wq_a", "wkv_a_with_mqa"));

    /** Each module name, then the modules fused with it (its last component replaced by its partners'). */
    @Override
    public List<String> keptTogether(List<String> skipModules) {
        List<String> out = new ArrayList<>();
        for (String m : skipModules) {
            if (!out.contains(m)) {
                out.add(m);
            }
            int dot = m.lastIndexOf('.');
            String leaf = m.substring(dot + 1);
            for (List<String> set : FUSED) {
                if (set.contains(leaf)) {
                    for (String partner : set) {
                        String p = m.substring(0, dot + 1) + partner;
                        if (!out.contains(p)) {
                            out.add(p);
                        }
                    }
                }
            }
        }
        return out;
    }

    /** {@code s} with Python's regular-expression metacharacters escaped. */
    static String quote(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if ("\\.^$*+?{}[]|()".indexOf(c) >= 0) {
                b.append('\\');
            }
            b.append(c);
        }
        return b.toString();
    }

    @Override
    public String quantizedAs(OutputSpec output) {
        return scheme == CtScheme.NVFP4A16 ? "nvfp4" : "fp8-e4m3";
    }

    @Override
    public String loadNote(OutputSpec output) {
        return "needs compressed-tensors and a CUDA GPU";
    }

    @Override
    public List<String> cardTags(OutputSpec output) {
        return switch (scheme) {
            case FP8_DYNAMIC, FP8_BLOCK -> List.of("compressed-tensors", "fp8", "vllm", "sglang");
            case NVFP4A16 -> List.of("compressed-tensors", "nvfp4", "vllm", "sglang");
        };
    }

    @Override
    public String cardDescription(OutputSpec output) {
        String what = switch (scheme) {
            case FP8_DYNAMIC -> "FP8 (E4M3) weights with one scale per output channel; activations are quantized to FP8 per token"
                    + " at run time. vLLM runs it natively on Hopper, Ada Lovelace, Blackwell and AMD MI300 (weight-only FP8 Marlin"
                    + " on Ampere)";
            case FP8_BLOCK -> "FP8 (E4M3) weights with one scale per 128 x 128 block; activations are quantized to FP8 per group of"
                    + " 128 at run time. vLLM runs it on Hopper, Blackwell and AMD MI300";
            case NVFP4A16 -> "NVFP4 weights (FP4 E2M1 in groups of 16 with FP8 scales and a float32 global scale, shared by q/k/v"
                    + " and by gate/up), 16-bit activations. vLLM runs it on Blackwell natively and through Marlin kernels"
                    + " on Ampere, Ada and Hopper";
        };
        return "A compressed-tensors checkpoint (" + scheme.name() + ", format " + scheme.format() + "), what llm-compressor's"
                + " model_free_ptq writes for this preset. " + what + ". Kept in 16 bit: "
                + String.join(", ", ignore(output)) + ", embeddings and norms.\n\n"
                + "## Serve it\n\n```bash\nvllm serve path/to/this/model\n"
                + "python -m sglang.launch_server --model-path path/to/this/model\n```\n";
    }
}
