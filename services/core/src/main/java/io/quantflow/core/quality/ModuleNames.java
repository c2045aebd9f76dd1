package io.quantflow.core.quality;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a weight sits in a transformer, read from its name: the layer index of
 * {@code model.layers.N.*} (also {@code h.N}, {@code blocks.N}, {@code layer.N}) and the module within
 * the layer ({@code self_attn.q_proj}). Names outside any layer have no layer index.
 */
public final class ModuleNames {
    private static final Pattern LAYER = Pattern.compile("(?:^|\\.)(?:layers|layer|h|blocks)\\.(\\d{1,9})\\.");

    private ModuleNames() {
    }

    /** The layer index, or -1 for a tensor outside the repeated layers (embeddings, lm_head, final norm). */
    public static int layer(String tensor) {
        Matcher m = LAYER.matcher(tensor);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** The module name: the tensor name less {@code .weight}, and less everything up to the layer index. */
    public static String module(String tensor) {
        String name = tensor.endsWith(".weight") ? tensor.substring(0, tensor.length() - ".weight".length()) : tensor;
        Matcher m = LAYER.matcher(name + ".");
        if (m.find()) {
            return m.end() >= name.length() + 1 ? name : name.substring(m.end());
        }
        return name;
    }

    /** The full module name of a weight ({@code model.layers.3.mlp.down_proj}): what {@code llm_int8_skip_modules} lists. */
    public static String fullModule(String tensor) {
        return tensor.endsWith(".weight") ? tensor.substring(0, tensor.length() - ".weight".length()) : tensor;
    }
}
