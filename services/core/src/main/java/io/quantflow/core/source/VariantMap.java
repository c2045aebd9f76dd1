package io.quantflow.core.source;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The operator's list of pre-quantized variants: a Hub model and the bitsandbytes 4-bit model
 * that may stand in for it, one per line:
 * <pre>
 * # comments and blank lines are ignored
 * meta-llama/Llama-3.1-8B -> unsloth/Llama-3.1-8B-bnb-4bit
 * mistralai/Mistral-7B-v0.3 -> unsloth/mistral-7b-v0.3-bnb-4bit@abc123   (a variant may be pinned)
 * </pre>
 * Model ids match without case, as on the Hub.
 */
public final class VariantMap {
    public static final VariantMap NONE = new VariantMap(null, Map.of());

    private final Path file;
    private final Map<String, ModelLocation.Hub> variants;

    private VariantMap(Path file, Map<String, ModelLocation.Hub> variants) {
        this.file = file;
        this.variants = variants;
    }

    public static VariantMap read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw QuantflowException.of(Reason.VARIANTS_FILE_INVALID, "cannot read the variants file " + file
                    + (Files.exists(file) ? "" : ": no such file"));
        }
        Map<String, ModelLocation.Hub> map = new LinkedHashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            int hash = line.indexOf('#');
            if (hash >= 0) {
                line = line.substring(0, hash);
            }
            line = line.strip();
            if (line.isEmpty()) {
                continue;
            }
            String where = file + " line " + (i + 1);
            String[] parts = line.split("\\s*->\\s*", -1);
            if (parts.length != 2 || parts[0].isBlank() || parts[1].isBlank()) {
                throw QuantflowException.of(Reason.VARIANTS_FILE_INVALID, where + ": expected 'org/model -> org/model-bnb-4bit'");
            }
            ModelLocation.Hub from = hub(parts[0], where);
            ModelLocation.Hub to = hub(parts[1], where);
            if (from.revision() != null) {
                throw QuantflowException.of(Reason.VARIANTS_FILE_INVALID, where + ": the model on the left names a repository, without @revision");
            }
            if (from.repo().key().equals(to.repo().key())) {
                throw QuantflowException.of(Reason.VARIANTS_FILE_INVALID, where + ": a model cannot be its own variant");
            }
            if (map.putIfAbsent(from.repo().key(), to) != null) {
                throw QuantflowException.of(Reason.VARIANTS_FILE_INVALID, where + ": " + from.repo() + " is mapped twice");
            }
        }
        return new VariantMap(file, Map.copyOf(map));
    }

    private static ModelLocation.Hub hub(String text, String where) {
        String t = text.strip();
        try {
            ModelLocation loc = ModelLocation.parse(t.contains("://") ? t : "hf://" + t);
            if (loc instanceof ModelLocation.Hub h) {
                return h;
            }
        } catch (QuantflowException e) {
            throw QuantflowException.of(Reason.VARIANTS_FILE_INVALID, where + ": " + e.getMessage());
        }
        throw QuantflowException.of(Reason.VARIANTS_FILE_INVALID, where + ": variants are Hub models (org/name)");
    }

    /** The variant that stands in for a model, if the file names one. */
    public Optional<ModelLocation.Hub> variantOf(RepoId repo) {
        return Optional.ofNullable(variants.get(repo.key()));
    }

    /** The file the map was read from, or null for no map. */
    public Path file() {
        return file;
    }

    public int size() {
        return variants.size();
    }
}
