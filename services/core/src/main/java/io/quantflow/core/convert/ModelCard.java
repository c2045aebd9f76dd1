package io.quantflow.core.convert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.format.OutputSpec;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The output's model card, {@code README.md}: what the files are, how they were made and how to
 * load them, with the Hub's metadata (base_model, library, tags, the base model's license). Made
 * from the source's config and the output's options only, so the same conversion writes the same
 * bytes in {@code convert} and in the pipeline. A model card that came with the source is kept
 * beside it as {@code BASE_MODEL_README.md}.
 */
public final class ModelCard {
    public static final String FILE_NAME = "README.md";
    public static final String BASE_CARD = "BASE_MODEL_README.md";
    private static final Pattern HUB_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*");
    private static final Pattern LICENSE_LINE = Pattern.compile("^(license|license_name|license_link):\\s*\\S.*$");

    private ModelCard() {
    }

    /** Writes README.md into an output directory that already holds the files copied from the source. */
    public static void write(Path dir, ObjectNode sourceConfig, OutputSpec o) throws IOException {
        Path card = dir.resolve(FILE_NAME);
        List<String> license = List.of();
        boolean baseCard = Files.exists(card);
        if (baseCard) {
            license = licenseLines(Files.readString(card, StandardCharsets.UTF_8));
            Files.move(card, dir.resolve(BASE_CARD));
        }
        Files.writeString(card, markdown(sourceConfig, o, license, baseCard), StandardCharsets.UTF_8);
    }

    static String markdown(ObjectNode config, OutputSpec o, List<String> license, boolean baseCard) {
        String base = text(config, "_name_or_path");
        boolean hubBase = base != null && HUB_ID.matcher(base).matches();
        String arch = config.path("architectures").path(0).asText(text(config, "model_type") == null ? "model" : text(config, "model_type"));
        StringBuilder s = new StringBuilder();
        s.append("---\n");
        if (hubBase) {
            s.append("base_model: ").append(base).append('\n');
        }
        license.forEach(l -> s.append(l).append('\n'));
        s.append("library_name: transformers\n");
        s.append("tags:\n- quantflow\n");
        o.format().cardTags(o).forEach(t -> s.append("- ").append(t).append('\n'));
        s.append("---\n\n");
        s.append("# ").append(hubBase ? base.substring(base.indexOf('/') + 1) : arch).append(", ").append(o.format().id()).append("\n\n");
        s.append("Written by quantflow from ").append(hubBase ? "[" + base + "](https://huggingface.co/" + base + ")" : "a 16-bit " + arch)
                .append(".\n\n");
        s.append(o.format().cardDescription(o));
        s.append("\n## Load it\n\n```python\nfrom transformers import AutoModelForCausalLM\n\n");
        s.append("model = AutoModelForCausalLM.from_pretrained(\"path/to/this/model\"")
                .append(o.quantizes() ? ", device_map=\"auto\")  # " + o.format().loadNote(o) + "\n" : ")\n");
        s.append("```\n\n");
        s.append(o.quantizes() ? "The quantization config is in config.json. " : "")
                .append("quantflow-manifest.json lists every file with its size and sha256, and the options")
                .append(o.quantizes() ? " and what 4 bits cost each weight." : ".");
        if (baseCard) {
            s.append(" The base model's card, and its terms, are in ").append(BASE_CARD).append('.');
        } else if (hubBase) {
            s.append(" The base model's terms apply.");
        }
        s.append('\n');
        return s.toString();
    }

    /** The license lines of a model card's YAML front matter. */
    static List<String> licenseLines(String card) {
        List<String> out = new ArrayList<>();
        String[] lines = card.split("\n", -1);
        if (lines.length == 0 || !lines[0].strip().equals("---")) {
            return out;
        }
        for (int i = 1; i < lines.length && !lines[i].strip().equals("---"); i++) {
            String l = lines[i].stripTrailing();
            if (LICENSE_LINE.matcher(l).matches()) {
                out.add(l);
            }
        }
        return out;
    }

    private static String text(ObjectNode config, String field) {
        JsonNode n = config.get(field);
        return n != null && n.isTextual() && !n.textValue().isBlank() ? n.textValue() : null;
    }
}
