package io.quantflow.core.lora;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.TensorInfo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * A PEFT LoRA adapter directory opened for merging: {@code adapter_config.json} parsed into a
 * {@link LoraConfig} and {@code adapter_model.safetensors} read strictly into one {@link LoraModule}
 * per adapted base module, plus the base tensors the adapter replaces whole.
 *
 * <p>Tensor names are PEFT's checkpoint keys, {@code base_model.model.<module>.<part>} with the adapter
 * name removed (keys without the {@code base_model.model.} prefix, as some integrations save them, are
 * read the same way, provided no key has it):
 * <ul>
 *   <li>{@code lora_A.weight} {@code [r, in]}, {@code lora_B.weight} {@code [out, r]} and, with
 *       {@code lora_bias}, {@code lora_B.bias} {@code [out]};</li>
 *   <li>{@code lora_embedding_A} {@code [r, num_embeddings]} and {@code lora_embedding_B} {@code [dim, r]}
 *       for an Embedding layer;</li>
 *   <li>DoRA's {@code lora_magnitude_vector} {@code [out]} (PEFT strips the {@code .weight} its module
 *       has; both spellings are read);</li>
 *   <li>any other key is a whole tensor that replaces the base tensor of the same name: a
 *       {@code modules_to_save} module's parameters, the biases saved with {@code bias="all"} or
 *       {@code "lora_only"}, and embedding layers saved whole. Parameters of a LoRA-wrapped layer are
 *       saved under its {@code base_layer} ({@code q_proj.base_layer.bias}); their base name drops
 *       that segment ({@code q_proj.bias}). A replacement takes effect before any LoRA delta of the
 *       same module is added, as when PEFT loads it into the base layer and merges.</li>
 * </ul>
 * Everything is checked on open: each A has its B, ranks agree with the config (rank_pattern
 * included), each module is one the config targets, DoRA magnitudes and LoRA biases are present
 * exactly when the config says so, and every shape is consistent. {@link #validateAgainst} then holds
 * the adapter to a base model.
 */
public final class LoraAdapter implements AutoCloseable {
    public static final String CONFIG_FILE = "adapter_config.json";
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    public static final String PICKLE_FILE = "adapter_model.bin";
    /** The prefix PEFT's PeftModel puts before every module name in an adapter checkpoint. */
    public static final String KEY_PREFIX = "base_model.model.";
    private static final long MAX_CONFIG_BYTES = 16L << 20;
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(JsonParser.Feature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    /** init_lora_weights values whose initialisation rewrites the base weights (PEFT: pissa*, olora, corda, loftq, lora_ga). */
    private static final List<String> BASE_MODIFYING_INITS = List.of("pissa", "olora", "corda", "loftq", "lora_ga");

    private final Path dir;
    private final LoraConfig config;
    private final JsonNode rawConfig;
    private final SafetensorsFile file;
    private final Map<String, LoraModule> modules;
    private final Map<String, TensorInfo> replaced;

    private LoraAdapter(Path dir, LoraConfig config, JsonNode rawConfig, SafetensorsFile file,
                        Map<String, LoraModule> modules, Map<String, TensorInfo> replaced) {
        this.dir = dir;
        this.config = config;
        this.rawConfig = rawConfig;
        this.file = file;
        this.modules = modules;
        this.replaced = replaced;
    }

    /**
     * Opens and checks an adapter directory.
     *
     * @throws QuantflowException SOURCE_NOT_FOUND when the directory is missing; UNSUPPORTED_MODEL when it
     *         only has {@code adapter_model.bin} (pickle is never loaded) or the config is not a plain LoRA;
     *         INVALID_CHECKPOINT when the config or weights are malformed or a LoRA tensor has no partner;
     *         INVALID_REQUEST when a module is not a target of the config or its rank disagrees with it
     */
    public static LoraAdapter open(Path dir) {
        if (!Files.exists(dir)) {
            throw QuantflowException.of(Reason.NO_SUCH_DIRECTORY, dir + ": no such directory");
        }
        if (!Files.isDirectory(dir)) {
            throw QuantflowException.of(Reason.NOT_A_DIRECTORY, dir + " is a file; an adapter is the directory that holds "
                    + CONFIG_FILE + " and " + WEIGHTS_FILE);
        }
        if (!Files.isReadable(dir)) {
            throw QuantflowException.of(Reason.PERMISSION_DENIED, dir + ": permission denied");
        }
        Path configPath = dir.resolve(CONFIG_FILE);
        if (!Files.isRegularFile(configPath)) {
            if (Files.exists(dir.resolve("config.json")) || Files.exists(dir.resolve("model.safetensors"))
                    || Files.exists(dir.resolve("model.safetensors.index.json"))) {
                throw QuantflowException.of(Reason.ADAPTER_IS_MODEL, dir + " is a model, not a LoRA adapter (it has no " + CONFIG_FILE + ")");
            }
            throw QuantflowException.of(Reason.ADAPTER_CONFIG_MISSING, dir + " has no " + CONFIG_FILE + "; a PEFT adapter directory holds "
                    + CONFIG_FILE + " and " + WEIGHTS_FILE);
        }
        JsonNode raw = readJson(configPath);
        LoraConfig config = LoraConfig.parse(raw);
        Path weights = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(weights)) {
            if (Files.exists(dir.resolve(PICKLE_FILE))) {
                throw QuantflowException.of(Reason.PICKLE_WEIGHTS, dir + " holds only " + PICKLE_FILE
                        + ", a pickle file, which quantflow never loads because unpickling runs code; re-save the adapter"
                        + " with save_pretrained(..., safe_serialization=True) to get " + WEIGHTS_FILE);
            }
            throw QuantflowException.of(Reason.ADAPTER_WEIGHTS_MISSING, dir + " has no " + WEIGHTS_FILE);
        }
        SafetensorsFile file = SafetensorsFile.open(weights);
        try {
            Map<String, LoraModule> modules = new TreeMap<>();
            Map<String, TensorInfo> replaced = new TreeMap<>();
            readTensors(config, file, modules, replaced);
            return new LoraAdapter(dir, config, raw, file, Collections.unmodifiableMap(modules),
                    Collections.unmodifiableMap(replaced));
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    public Path dir() {
        return dir;
    }

    public LoraConfig config() {
        return config;
    }

    /** One entry per adapted module, keyed by the base module name, sorted. */
    public Map<String, LoraModule> modules() {
        return modules;
    }

    /** Base tensor name -> the adapter tensor that replaces it whole (modules_to_save, saved biases and embeddings). */
    public Map<String, TensorInfo> replacedTensors() {
        return replaced;
    }

    public SafetensorsFile file() {
        return file;
    }

    /**
     * The {@code init_lora_weights} of the config when it names an initialisation that rewrote the base
     * model's weights while training (PiSSA, OLoRA, CorDA, LoftQ, LoRA-GA), else null. Such an adapter
     * belongs to that rewritten base: merged into the original one it gives a different model, unless it
     * was saved with {@code path_initial_model_for_weight_conversion} (PEFT then writes {@code true} here).
     */
    public String baseModifyingInit() {
        JsonNode init = rawConfig.get("init_lora_weights");
        if (init == null || !init.isTextual()) {
            return null;
        }
        String v = init.textValue().toLowerCase(Locale.ROOT);
        for (String prefix : BASE_MODIFYING_INITS) {
            if (v.startsWith(prefix)) {
                return init.textValue();
            }
        }
        return null;
    }

    /**
     * Checks the adapter against a base model's tensors: every module's {@code <module>.weight} exists
     * with the shape A and B imply ({@code [out, in]}, or {@code [in, out]} with fan_in_fan_out and for
     * embeddings), every LoRA bias has a base bias {@code [out]} to go to, and every replaced tensor
     * exists with the same shape.
     *
     * @param baseTensors the base model's tensors by name (a 4-bit base: pass the logical shapes, see
     *                    {@link #validateAgainstShapes})
     * @throws QuantflowException INVALID_REQUEST naming the module and both shapes
     */
    public void validateAgainst(Map<String, TensorInfo> baseTensors) {
        Map<String, long[]> shapes = new HashMap<>();
        baseTensors.forEach((name, t) -> shapes.put(name, t.shape()));
        validateAgainstShapes(shapes);
    }

    /**
     * {@link #validateAgainst} on tensor shapes alone, for a base whose stored tensors are not its logical
     * ones: a bitsandbytes 4-bit weight is a packed U8 tensor whose shape is in its quant state
     * ({@code Bnb4bitWeight.shape()}).
     */
    public void validateAgainstShapes(Map<String, long[]> baseShapes) {
        validate(baseShapes, true);
    }

    /**
     * {@link #validateAgainstShapes} against a part of the base model (one shard of it): the tensors the
     * adapter changes that are in the part are checked; those that are not may be in another part.
     */
    public void validateAgainstPart(Map<String, long[]> partShapes) {
        validate(partShapes, false);
    }

    private void validate(Map<String, long[]> baseShapes, boolean whole) {
        for (LoraModule m : modules.values()) {
            long[] w = baseShapes.get(m.baseWeightName());
            if (w == null && whole) {
                throw QuantflowException.of(Reason.ADAPTER_MODULE_NOT_IN_BASE, "adapter module " + m.module() + " has no weight "
                        + m.baseWeightName() + " in the base model");
            }
            if (w != null) {
                checkWeight(m, w);
            }
            if (m.bias() != null && (whole || baseShapes.containsKey(m.baseBiasName()))) {
                long[] bias = baseShapes.get(m.baseBiasName());
                if (bias == null) {
                    throw QuantflowException.of(Reason.ADAPTER_MODULE_NOT_IN_BASE, "adapter module " + m.module() + " has a lora_B bias but the base"
                            + " model has no " + m.baseBiasName() + " to add it to");
                }
                if (!Arrays.equals(bias, m.bias().shape())) {
                    throw QuantflowException.of(Reason.ADAPTER_SHAPE_MISMATCH, "adapter module " + m.module() + ": lora_B.bias is "
                            + Arrays.toString(m.bias().shape()) + " but the base bias is " + Arrays.toString(bias));
                }
            }
        }
        for (Map.Entry<String, TensorInfo> e : replaced.entrySet()) {
            long[] base = baseShapes.get(e.getKey());
            if (base == null && whole) {
                throw QuantflowException.of(Reason.ADAPTER_MODULE_NOT_IN_BASE, "adapter tensor " + e.getValue().name() + " replaces "
                        + e.getKey() + ", which the base model does not have");
            }
            if (base != null && !Arrays.equals(base, e.getValue().shape())) {
                throw QuantflowException.of(Reason.ADAPTER_SHAPE_MISMATCH, "adapter tensor " + e.getValue().name() + " replaces " + e.getKey()
                        + ": it is " + Arrays.toString(e.getValue().shape()) + " but the base tensor is " + Arrays.toString(base));
            }
        }
    }

    private static void checkWeight(LoraModule m, long[] w) {
        if (w.length != 2) {
            throw QuantflowException.of(Reason.ADAPTER_SHAPE_MISMATCH, "adapter module " + m.module() + ": the base weight "
                    + m.baseWeightName() + " is " + Arrays.toString(w) + ", not a matrix");
        }
        long in = m.transposed() ? w[0] : w[1];
        long out = m.transposed() ? w[1] : w[0];
        String layout = m.embedding() ? " ([num_embeddings, dim])" : m.fanInFanOut() ? " ([in, out] with fan_in_fan_out)" : "";
        if (m.inFeatures() != in) {
            throw QuantflowException.of(Reason.ADAPTER_SHAPE_MISMATCH, "adapter module " + m.module() + ": " + partName(m, true) + " is "
                    + Arrays.toString(m.a().shape()) + " but the base weight is " + Arrays.toString(w) + layout);
        }
        if (m.outFeatures() != out) {
            throw QuantflowException.of(Reason.ADAPTER_SHAPE_MISMATCH, "adapter module " + m.module() + ": " + partName(m, false) + " is "
                    + Arrays.toString(m.b().shape()) + " but the base weight is " + Arrays.toString(w) + layout);
        }
    }

    /**
     * A whole (small) adapter tensor decoded to float32 from BF16, F16 or F32.
     *
     * @throws IllegalArgumentException when the tensor is not this adapter's, not a float or too large
     *         for one array
     */
    public float[] readFloats(TensorInfo t) {
        if (!t.equals(file.header().tensor(t.name()))) {
            throw new IllegalArgumentException(t + " is not a tensor of " + file.path());
        }
        if (!t.dtype().isDecodedFloat() || t.byteSize() > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("cannot read " + t + " as one float array");
        }
        ByteBuffer buf = ByteBuffer.allocate((int) t.byteSize());
        try {
            file.read(t, 0, buf);
        } catch (IOException e) {
            throw QuantflowException.of(Reason.FILE_UNREADABLE, WEIGHTS_FILE + ": cannot read " + t.name() + " (" + e.getMessage() + ")");
        }
        float[] out = new float[(int) t.elements()];
        HalfFloats.decode(t.dtype(), buf.array(), 0, out.length, out, 0);
        return out;
    }

    @Override
    public void close() {
        file.close();
    }

    // ------------------------------------------------------------------ reading the tensors

    /** What a LoRA tensor is to its module. */
    private enum Role { A, B, BIAS, EMB_A, EMB_B, MAGNITUDE }

    /** The key suffixes PEFT saves, longest first where one ends another. */
    private static final List<Map.Entry<String, Role>> SUFFIXES = List.of(
            Map.entry(".lora_magnitude_vector.weight", Role.MAGNITUDE),
            Map.entry(".lora_magnitude_vector", Role.MAGNITUDE),
            Map.entry(".lora_A.weight", Role.A),
            Map.entry(".lora_B.weight", Role.B),
            Map.entry(".lora_B.bias", Role.BIAS),
            Map.entry(".lora_embedding_A", Role.EMB_A),
            Map.entry(".lora_embedding_B", Role.EMB_B));

    private static void readTensors(LoraConfig config, SafetensorsFile file, Map<String, LoraModule> modules,
                                    Map<String, TensorInfo> replaced) {
        List<TensorInfo> tensors = file.header().tensors();
        if (tensors.isEmpty()) {
            throw QuantflowException.of(Reason.ADAPTER_EMPTY, WEIGHTS_FILE + " holds no tensors");
        }
        boolean prefixed = tensors.get(0).name().startsWith(KEY_PREFIX);
        Map<String, Map<Role, TensorInfo>> parts = new TreeMap<>();
        Map<String, String> replacedBy = new HashMap<>();
        for (TensorInfo t : tensors) {
            if (t.name().startsWith(KEY_PREFIX) != prefixed) {
                throw QuantflowException.of(Reason.ADAPTER_TENSOR_UNKNOWN, WEIGHTS_FILE + ": tensor " + t.name()
                        + (prefixed ? " lacks" : " has") + " the " + KEY_PREFIX + " prefix that "
                        + (prefixed ? "the others have" : "the others lack"));
            }
            String key = prefixed ? t.name().substring(KEY_PREFIX.length()) : t.name();
            Map.Entry<String, Role> suffix = SUFFIXES.stream().filter(e -> key.endsWith(e.getKey())).findFirst().orElse(null);
            if (suffix == null) {
                for (String segment : key.split("\\.", -1)) {
                    if (segment.startsWith("lora_")) {
                        throw QuantflowException.of(Reason.ADAPTER_TENSOR_UNKNOWN, WEIGHTS_FILE + ": tensor " + t.name() + " is not a LoRA"
                                + " tensor quantflow reads (lora_A.weight, lora_B.weight, lora_B.bias, lora_embedding_A/B,"
                                + " lora_magnitude_vector), nor a whole tensor of the base model");
                    }
                }
                String base = baseName(key);
                String previous = replacedBy.put(base, t.name());
                if (previous != null) {
                    throw QuantflowException.of(Reason.ADAPTER_TENSOR_CONFLICT, WEIGHTS_FILE + ": tensors " + previous + " and " + t.name()
                            + " both replace " + base);
                }
                replaced.put(base, t);
                continue;
            }
            String module = key.substring(0, key.length() - suffix.getKey().length());
            if (module.isEmpty()) {
                throw QuantflowException.of(Reason.ADAPTER_TENSOR_UNKNOWN, WEIGHTS_FILE + ": tensor " + t.name() + " names no module");
            }
            TensorInfo previous = parts.computeIfAbsent(module, k -> new EnumMap<>(Role.class)).put(suffix.getValue(), t);
            if (previous != null) {
                throw bad(Reason.ADAPTER_TENSOR_CONFLICT, module, "has both " + previous.name() + " and " + t.name());
            }
        }
        for (Map.Entry<String, Map<Role, TensorInfo>> e : parts.entrySet()) {
            modules.put(e.getKey(), module(config, e.getKey(), e.getValue(), prefixed ? KEY_PREFIX : ""));
        }
        if (modules.isEmpty()) {
            throw QuantflowException.of(Reason.ADAPTER_EMPTY, WEIGHTS_FILE + " holds no LoRA tensors");
        }
    }

    /** {@code x.base_layer.bias} -> {@code x.bias}: the parameter's name in the unwrapped base model. */
    private static String baseName(String key) {
        StringBuilder sb = new StringBuilder(key.length());
        for (String segment : key.split("\\.", -1)) {
            if (segment.equals("base_layer")) {
                continue;
            }
            if (!sb.isEmpty()) {
                sb.append('.');
            }
            sb.append(segment);
        }
        return sb.toString();
    }

    private static LoraModule module(LoraConfig config, String m, Map<Role, TensorInfo> parts, String prefix) {
        TensorInfo magnitude = parts.get(Role.MAGNITUDE);
        TensorInfo bias = parts.get(Role.BIAS);
        boolean linear = parts.containsKey(Role.A) || parts.containsKey(Role.B) || bias != null;
        boolean embedding = parts.containsKey(Role.EMB_A) || parts.containsKey(Role.EMB_B);
        if (linear && embedding) {
            throw bad(Reason.ADAPTER_TENSOR_CONFLICT, m, "has both lora_A/lora_B and lora_embedding_A/lora_embedding_B tensors");
        }
        TensorInfo a = parts.get(embedding ? Role.EMB_A : Role.A);
        TensorInfo b = parts.get(embedding ? Role.EMB_B : Role.B);
        String aName = embedding ? "lora_embedding_A" : "lora_A.weight";
        String bName = embedding ? "lora_embedding_B" : "lora_B.weight";
        if (a == null && b == null) {
            TensorInfo stray = magnitude != null ? magnitude : bias;
            throw bad(Reason.ADAPTER_TENSOR_UNPAIRED, m, "tensor " + stray.name() + " has no partner " + prefix + m + ".lora_A.weight / lora_B.weight");
        }
        if (a == null) {
            throw bad(Reason.ADAPTER_TENSOR_UNPAIRED, m, "tensor " + b.name() + " has no partner " + prefix + m + "." + aName);
        }
        if (b == null) {
            throw bad(Reason.ADAPTER_TENSOR_UNPAIRED, m, "tensor " + a.name() + " has no partner " + prefix + m + "." + bName);
        }
        for (TensorInfo t : new TensorInfo[] {a, b, magnitude, bias}) {
            if (t != null && !t.dtype().isDecodedFloat()) {
                throw QuantflowException.of(Reason.TENSOR_DTYPE_UNSUPPORTED, "adapter module " + m + ": " + t.name()
                        + " is " + t.dtype() + "; adapter tensors must be BF16, F16 or F32");
            }
        }
        if (a.rank() != 2 || b.rank() != 2) {
            TensorInfo odd = a.rank() != 2 ? a : b;
            throw QuantflowException.of(Reason.ADAPTER_LAYER_UNSUPPORTED, "adapter module " + m + ": " + odd.name() + " is "
                    + Arrays.toString(odd.shape()) + "; only 2-D LoRA matrices (Linear, Conv1D and Embedding layers) are"
                    + " supported, not convolutions");
        }
        if (a.dim(0) != b.dim(1)) {
            throw bad(Reason.ADAPTER_SHAPES_INCONSISTENT, m, shortName(a) + " is " + Arrays.toString(a.shape()) + " but " + shortName(b) + " is "
                    + Arrays.toString(b.shape()) + ": their ranks differ");
        }
        if (a.dim(0) == 0) {
            throw bad(Reason.ADAPTER_SHAPES_INCONSISTENT, m, shortName(a) + " is " + Arrays.toString(a.shape()) + ", rank 0");
        }
        long out = b.dim(0);
        if (!config.isTarget(m)) {
            throw QuantflowException.of(Reason.ADAPTER_MODULE_NOT_TARGETED, "adapter module " + m + " is not a target of adapter_config.json"
                    + " (target_modules " + config.targetsText()
                    + (config.modulesToSave().isEmpty() ? "" : ", modules_to_save " + config.modulesToSave()) + ")");
        }
        int rank = config.rankFor(m);
        if (a.dim(0) != rank) {
            String key = LoraConfig.patternKey(config.rankPattern().keySet(), m);
            throw QuantflowException.of(Reason.ADAPTER_RANK_MISMATCH, "adapter module " + m + ": " + shortName(a) + " is "
                    + Arrays.toString(a.shape()) + " but adapter_config.json gives it rank " + rank
                    + (key == null ? " (r)" : " (rank_pattern '" + key + "')"));
        }
        if (config.useDora() && magnitude == null) {
            throw bad(Reason.ADAPTER_TENSORS_CONTRADICT_CONFIG, m, "use_dora is true but " + prefix + m + ".lora_magnitude_vector is missing");
        }
        if (!config.useDora() && magnitude != null) {
            throw bad(Reason.ADAPTER_TENSORS_CONTRADICT_CONFIG, m, "tensor " + magnitude.name() + " is a DoRA magnitude but use_dora is false");
        }
        if (magnitude != null && !Arrays.equals(magnitude.shape(), new long[] {out})) {
            throw bad(Reason.ADAPTER_SHAPES_INCONSISTENT, m, "lora_magnitude_vector is " + Arrays.toString(magnitude.shape()) + " but lora_B has " + out
                    + " rows");
        }
        if (embedding && config.loraBias()) {
            throw bad(Reason.ADAPTER_TENSORS_CONTRADICT_CONFIG, m, "lora_bias is true, which PEFT does not allow for an embedding layer");
        }
        if (!embedding && config.loraBias() && bias == null) {
            throw bad(Reason.ADAPTER_TENSORS_CONTRADICT_CONFIG, m, "lora_bias is true but " + prefix + m + ".lora_B.bias is missing");
        }
        if (!config.loraBias() && bias != null) {
            throw bad(Reason.ADAPTER_TENSORS_CONTRADICT_CONFIG, m, "tensor " + bias.name() + " is a lora_B bias but lora_bias is false");
        }
        if (bias != null && !Arrays.equals(bias.shape(), new long[] {out})) {
            throw bad(Reason.ADAPTER_SHAPES_INCONSISTENT, m, "lora_B.bias is " + Arrays.toString(bias.shape()) + " but lora_B has " + out + " rows");
        }
        double alpha = config.alphaFor(m);
        return new LoraModule(m, a, b, magnitude, bias, rank, alpha, LoraConfig.scale(alpha, rank, config.useRslora()),
                !embedding && config.fanInFanOut(), config.useDora(), embedding);
    }

    private static String shortName(TensorInfo t) {
        String n = t.name();
        int lora = n.lastIndexOf(".lora_");
        return lora < 0 ? n : n.substring(lora + 1).replace(".weight", "");
    }

    private static String partName(LoraModule m, boolean a) {
        return m.embedding() ? (a ? "lora_embedding_A" : "lora_embedding_B") : (a ? "lora_A" : "lora_B");
    }

    private static QuantflowException bad(Reason reason, String module, String message) {
        return QuantflowException.of(reason, WEIGHTS_FILE + ": adapter module " + module + ": " + message);
    }

    private static JsonNode readJson(Path p) {
        try {
            if (Files.size(p) > MAX_CONFIG_BYTES) {
                throw QuantflowException.of(Reason.JSON_TOO_LARGE, CONFIG_FILE + " is larger than 16 MB");
            }
            return JSON.readTree(Files.readAllBytes(p));
        } catch (AccessDeniedException e) {
            throw QuantflowException.of(Reason.PERMISSION_DENIED, p + ": permission denied");
        } catch (IOException e) {
            String msg = e.getMessage() == null ? "unreadable" : e.getMessage();
            int nl = msg.indexOf('\n');
            throw QuantflowException.of(Reason.JSON_MALFORMED, CONFIG_FILE + " is not valid JSON (" + (nl < 0 ? msg : msg.substring(0, nl)) + ")");
        }
    }
}
