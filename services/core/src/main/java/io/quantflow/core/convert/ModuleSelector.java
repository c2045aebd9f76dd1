package io.quantflow.core.convert;

import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.TensorInfo;

import java.util.List;
import java.util.Locale;

/**
 * Which tensors become 4-bit. transformers quantizes the weights of linear layers and keeps
 * everything else in 16 bit; from a checkpoint alone that is: 2-D floating {@code *.weight} tensors,
 * except embeddings, the output head ({@code lm_head}), norms, and the modules the user names.
 *
 * <p>A user's module name matches as transformers matches {@code llm_int8_skip_modules}: the whole
 * module name, its last component, or any dotted prefix or suffix of it ({@code mlp} skips every
 * {@code ...mlp.*} module; {@code model.layers.0} skips that layer).
 */
public final class ModuleSelector {
    private final List<String> skipModules;

    public ModuleSelector(List<String> skipModules) {
        this.skipModules = List.copyOf(skipModules);
    }

    public boolean quantize(TensorInfo t) {
        return quantize(t.name(), t.shape(), t.dtype());
    }

    public boolean quantize(String name, long[] shape, DType dtype) {
        if (shape.length != 2 || shape[0] == 0 || shape[1] == 0 || !dtype.isDecodedFloat() || !name.endsWith(".weight")) {
            return false;
        }
        String module = name.substring(0, name.length() - ".weight".length());
        return !neverQuantized(module) && !skipped(module);
    }

    /** Embeddings, the output head and norms stay in 16 bit whatever the options. */
    static boolean neverQuantized(String module) {
        String m = module.toLowerCase(Locale.ROOT);
        String leaf = m.substring(m.lastIndexOf('.') + 1);
        return leaf.equals("lm_head") || leaf.contains("embed") || leaf.equals("wte") || leaf.equals("wpe")
                || leaf.contains("norm") || leaf.equals("ln_f") || leaf.startsWith("ln_")
                || leaf.equals("shared") || leaf.equals("output_layer");
    }

    boolean skipped(String module) {
        for (String s : skipModules) {
            if (module.equals(s) || module.endsWith("." + s) || module.startsWith(s + ".") || module.contains("." + s + ".")) {
                return true;
            }
        }
        return false;
    }
}
