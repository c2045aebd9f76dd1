package io.quantflow.core.lora;

import com.fasterxml.jackson.databind.JsonNode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * What quantflow needs of a PEFT {@code adapter_config.json} to read and merge a LoRA adapter, with
 * PEFT's defaults for absent fields (PEFT fills them the same way when it loads a config).
 *
 * <p>How PEFT uses the fields, which these methods reproduce:
 * <ul>
 *   <li>per module, the rank and alpha come from {@code rank_pattern}/{@code alpha_pattern} when a
 *       pattern key matches the module name ({@link #patternKey}), else from {@code r}/{@code lora_alpha};</li>
 *   <li>the scale is {@code alpha / r}, or {@code alpha / sqrt(r)} with {@code use_rslora} ({@link #scale});</li>
 *   <li>a module is a target when {@code target_modules}, a list, holds its name or a suffix of it after a
 *       dot, or when {@code target_modules}, a single string, is a regex matching its whole name; never
 *       when it lies inside a {@code modules_to_save} module ({@link #isTarget}).</li>
 * </ul>
 * Regexes are PEFT's Python regexes run by {@link java.util.regex}; the common syntax is the same and
 * Python's named groups ({@code (?P<n>...)}, {@code (?P=n)}) are translated.
 *
 * @param rankPattern         module pattern -> rank, in the file's order (the first match wins)
 * @param alphaPattern        module pattern -> alpha, in the file's order
 * @param targetModules       the list form of {@code target_modules}, or null when it is a regex
 * @param targetModulesRegex  the string form of {@code target_modules}, or null when it is a list
 * @param modulesToSave       modules trained in full and saved whole (empty when none)
 * @param loraBias            whether {@code lora_B} has a bias ({@code lora_bias})
 * @param baseModelNameOrPath what the adapter was trained on, or null
 */
public record LoraConfig(int r, double loraAlpha, boolean useRslora, Map<String, Integer> rankPattern,
                         Map<String, Double> alphaPattern, boolean fanInFanOut, List<String> targetModules,
                         String targetModulesRegex, List<String> modulesToSave, boolean loraBias, boolean useDora,
                         String baseModelNameOrPath) {

    /** PEFT's shorthand for every linear layer but the output layer, expanded when the adapter is created. */
    public static final String ALL_LINEAR = "all-linear";

    public LoraConfig {
        if (r <= 0) {
            throw new IllegalArgumentException("r must be positive, not " + r);
        }
        if ((targetModules == null) == (targetModulesRegex == null)) {
            throw new IllegalArgumentException("target_modules is either a list or a regex");
        }
        rankPattern = Collections.unmodifiableMap(new LinkedHashMap<>(rankPattern));
        alphaPattern = Collections.unmodifiableMap(new LinkedHashMap<>(alphaPattern));
        targetModules = targetModules == null ? null : List.copyOf(targetModules);
        modulesToSave = List.copyOf(modulesToSave);
    }

    /** The rank of a module: its {@code rank_pattern} entry, else {@code r}. */
    public int rankFor(String module) {
        String key = patternKey(rankPattern.keySet(), module);
        return key == null ? r : rankPattern.get(key);
    }

    /** The alpha of a module: its {@code alpha_pattern} entry, else {@code lora_alpha}. */
    public double alphaFor(String module) {
        String key = patternKey(alphaPattern.keySet(), module);
        return key == null ? loraAlpha : alphaPattern.get(key);
    }

    /** The scale PEFT multiplies a module's {@code B @ A} by. */
    public double scaleFor(String module) {
        return scale(alphaFor(module), rankFor(module), useRslora);
    }

    /**
     * {@code alpha / r}, or {@code alpha / sqrt(r)} with rank-stabilized LoRA, in double precision as
     * PEFT computes it in Python. (PyTorch then multiplies a float32 tensor by it, which rounds the
     * scale to float32.)
     */
    public static double scale(double alpha, int r, boolean useRslora) {
        return useRslora ? alpha / Math.sqrt(r) : alpha / r;
    }

    /**
     * The first pattern key that matches a module name as PEFT's {@code get_pattern_key} matches it:
     * the key is a regex, and it matches when {@code (.*\.)?(KEY)} matches the whole name (so
     * {@code q_proj} matches {@code model.layers.0.self_attn.q_proj} but not {@code ...xq_proj}).
     *
     * @return the key, or null when none matches
     */
    public static String patternKey(Iterable<String> keys, String module) {
        for (String key : keys) {
            if (pattern("(?:.*\\.)?(?:" + key + ")", "a pattern key").matcher(module).matches()) {
                return key;
            }
        }
        return null;
    }

    /**
     * Whether PEFT would put a LoRA layer on the module: never inside a {@code modules_to_save} module;
     * with a list, when the name equals an entry or ends with {@code "." + entry}; with a string, when
     * the regex matches the whole name ({@value #ALL_LINEAR} matches every module here: which layers
     * are linear is only known from the model, and PEFT saves the expanded list anyway).
     */
    public boolean isTarget(String module) {
        for (String m : modulesToSave) {
            if (pattern("(?:.*\\.)?(?:" + m + ")(?:\\..*)?", "modules_to_save").matcher(module).matches()) {
                return false;
            }
        }
        if (targetModulesRegex != null) {
            return targetModulesRegex.toLowerCase(Locale.ROOT).equals(ALL_LINEAR)
                    || pattern(targetModulesRegex, "target_modules").matcher(module).matches();
        }
        for (String t : targetModules) {
            if (module.equals(t) || module.endsWith("." + t)) {
                return true;
            }
        }
        return false;
    }

    /** A short description of the targets for messages. */
    String targetsText() {
        return targetModulesRegex != null ? "the regex '" + targetModulesRegex + "'" : targetModules.toString();
    }

    // ------------------------------------------------------------------ parsing

    /**
     * Reads {@code adapter_config.json}.
     *
     * @throws QuantflowException INVALID_CHECKPOINT when a field has the wrong type or value (or a regex
     *         does not compile); UNSUPPORTED_MODEL when {@code peft_type} is not LORA or the adapter uses a
     *         LoRA variant whose weights cannot be merged as {@code W + s * B @ A} (aLoRA, QALoRA, trainable
     *         tokens, target_parameters, layer replication, and the other variants PEFT marks as such)
     */
    public static LoraConfig parse(JsonNode json) {
        if (json == null || !json.isObject()) {
            throw QuantflowException.of(Reason.JSON_MALFORMED, "adapter_config.json is not a JSON object");
        }
        JsonNode type = json.get("peft_type");
        if (type == null || type.isNull()) {
            throw bad("has no peft_type");
        }
        if (!type.isTextual()) {
            throw bad("peft_type " + type + " is not a string");
        }
        if (!type.textValue().equals("LORA")) {
            throw unsupported("peft_type is " + type.textValue() + "; quantflow reads LoRA adapters (peft_type LORA)");
        }
        refuseUnsupported(json);

        long r = integer(json, "r", 8);
        if (r <= 0 || r > Integer.MAX_VALUE) {
            throw bad("r is " + r + "; the rank must be a positive integer");
        }
        double alpha = number(json, "lora_alpha", 8);
        Map<String, Integer> rankPattern = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : fields(json, "rank_pattern")) {
            JsonNode v = e.getValue();
            if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() <= 0) {
                throw bad("rank_pattern gives '" + e.getKey() + "' the rank " + v + ", not a positive integer");
            }
            checkRegex(e.getKey(), "rank_pattern key");
            rankPattern.put(e.getKey(), v.intValue());
        }
        Map<String, Double> alphaPattern = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : fields(json, "alpha_pattern")) {
            JsonNode v = e.getValue();
            if (!v.isNumber() || !Double.isFinite(v.doubleValue())) {
                throw bad("alpha_pattern gives '" + e.getKey() + "' the alpha " + v + ", not a number");
            }
            checkRegex(e.getKey(), "alpha_pattern key");
            alphaPattern.put(e.getKey(), v.doubleValue());
        }
        List<String> targets = null;
        String targetRegex = null;
        JsonNode t = json.get("target_modules");
        if (t == null || t.isNull()) {
            throw bad("has no target_modules");
        } else if (t.isTextual()) {
            targetRegex = t.textValue();
            if (!targetRegex.toLowerCase(Locale.ROOT).equals(ALL_LINEAR)) {
                checkRegex(targetRegex, "target_modules");
            }
        } else {
            targets = strings(json, "target_modules");
        }
        List<String> modulesToSave = strings(json, "modules_to_save");
        for (String m : modulesToSave) {
            checkRegex(m, "modules_to_save entry");
        }
        JsonNode bias = json.get("bias");
        if (bias != null && !bias.isNull() && !(bias.isTextual() && List.of("none", "all", "lora_only").contains(bias.textValue()))) {
            throw bad("bias is " + bias + ", not \"none\", \"all\" or \"lora_only\"");
        }
        JsonNode base = json.get("base_model_name_or_path");
        if (base != null && !base.isNull() && !base.isTextual()) {
            throw bad("base_model_name_or_path " + base + " is not a string");
        }
        return new LoraConfig((int) r, alpha, bool(json, "use_rslora"), rankPattern, alphaPattern,
                bool(json, "fan_in_fan_out"), targets, targetRegex, modulesToSave, bool(json, "lora_bias"),
                bool(json, "use_dora"), base == null || base.isNull() ? null : base.textValue());
    }

    /** Fields that make the adapter something other than {@code W + s * B @ A} per module. */
    private static void refuseUnsupported(JsonNode json) {
        String[][] features = {
                {"alora_invocation_tokens", "Activated LoRA applies the adapter only after its invocation tokens, so it cannot be merged"},
                {"use_qalora", "QALoRA pools the input before lora_A"},
                {"target_parameters", "LoRA on bare parameters (target_parameters) is not supported"},
                {"trainable_token_indices", "trainable token deltas (trainable_token_indices) are not supported"},
                {"layer_replication", "layer replication changes the model's layers"},
                {"use_bdlora", "block-diagonal LoRA is not supported"},
                {"velora_config", "VeLoRA is not supported"},
                {"monteclora_config", "MonteCLoRA is not supported"},
                {"arrow_config", "Arrow routing is not supported"},
                {"kasa_config", "KaSA is not supported"},
        };
        for (String[] f : features) {
            if (isSet(json.get(f[0]))) {
                throw unsupported(f[0] + " is set: " + f[1]);
            }
        }
        JsonNode init = json.get("init_lora_weights");
        if (init != null && init.isTextual() && init.textValue().equalsIgnoreCase("mica")) {
            throw unsupported("init_lora_weights is \"mica\", a LoRA variant quantflow does not merge");
        }
    }

    private static boolean isSet(JsonNode v) {
        if (v == null || v.isNull()) {
            return false;
        }
        if (v.isBoolean()) {
            return v.booleanValue();
        }
        if (v.isContainerNode()) {
            return !v.isEmpty();
        }
        return true;
    }

    private static long integer(JsonNode json, String key, long dflt) {
        JsonNode v = json.get(key);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw bad(key + " " + v + " is not an integer");
        }
        return v.longValue();
    }

    private static double number(JsonNode json, String key, double dflt) {
        JsonNode v = json.get(key);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isNumber() || !Double.isFinite(v.doubleValue())) {
            throw bad(key + " " + v + " is not a number");
        }
        return v.doubleValue();
    }

    private static boolean bool(JsonNode json, String key) {
        JsonNode v = json.get(key);
        if (v == null || v.isNull()) {
            return false;
        }
        if (!v.isBoolean()) {
            throw bad(key + " " + v + " is not true or false");
        }
        return v.booleanValue();
    }

    private static List<String> strings(JsonNode json, String key) {
        JsonNode v = json.get(key);
        List<String> out = new ArrayList<>();
        if (v == null || v.isNull()) {
            return out;
        }
        if (!v.isArray()) {
            throw bad(key + " " + v + " is not a list of names");
        }
        for (JsonNode e : v) {
            if (!e.isTextual()) {
                throw bad(key + " " + v + " is not a list of names");
            }
            out.add(e.textValue());
        }
        return out;
    }

    private static Iterable<Map.Entry<String, JsonNode>> fields(JsonNode json, String key) {
        JsonNode v = json.get(key);
        if (v == null || v.isNull()) {
            return List.of();
        }
        if (!v.isObject()) {
            throw bad(key + " is not an object");
        }
        List<Map.Entry<String, JsonNode>> out = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
            out.add(it.next());
        }
        return out;
    }

    private static void checkRegex(String regex, String what) {
        try {
            Pattern.compile(javaRegex(regex));
        } catch (PatternSyntaxException e) {
            throw bad(what + " '" + regex + "' is not a valid regex (" + e.getDescription() + ")");
        }
    }

    /** Compiled per use: a config has a handful of patterns and a model at most a few thousand modules. */
    private static Pattern pattern(String regex, String what) {
        try {
            return Pattern.compile(javaRegex(regex));
        } catch (PatternSyntaxException e) {
            throw QuantflowException.of(Reason.ADAPTER_PATTERN_INVALID, what + " '" + regex + "' is not a valid regex (" + e.getDescription() + ")");
        }
    }

    /** Python's named-group syntax in Java's spelling; everything else PEFT users write reads the same. */
    static String javaRegex(String python) {
        return python.replace("(?P<", "(?<").replaceAll("\\(\\?P=(\\w+)\\)", "\\\\k<$1>").replace("\\Z", "\\z");
    }

    private static QuantflowException bad(String message) {
        return QuantflowException.of(Reason.ADAPTER_CONFIG_INVALID, "adapter_config.json " + message);
    }

    private static QuantflowException unsupported(String message) {
        return QuantflowException.of(Reason.ADAPTER_TYPE_UNSUPPORTED, "adapter_config.json: " + message);
    }
}
