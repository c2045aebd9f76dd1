package io.quantflow.core;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Holds core's packages to the imports docs/architecture.md allows them: the leaves (error, util, json,
 * safetensors, quant...) import no conversion code, the formats import no core or pipeline code, and the core
 * does not name a format package but through the registry. A new import across packages fails here until the
 * table (and this map) say it is meant.
 */
class PackageDependenciesTest {
    private static final Path SOURCES = Path.of("src/main/java/io/quantflow/core");
    private static final Pattern IMPORT = Pattern.compile("^import (?:static )?io\\.quantflow\\.core\\.([a-z0-9.]+?)\\.[A-Z]", Pattern.MULTILINE);

    private static final Set<String> FORMATS = Set.of("format.bnb4bit", "format.bnb8bit", "format.ct", "format.gguf", "format.lora", "format.merged16bit", "format.merged4bit");

    /** What each package may import (besides itself); the same as docs/architecture.md's table. */
    private static final Map<String, Set<String>> ALLOWED = new TreeMap<>(Map.ofEntries(
            Map.entry("error", Set.of()),
            Map.entry("util", Set.of()),
            Map.entry("json", Set.of()),
            Map.entry("concurrent", Set.of("error")),
            Map.entry("safetensors", Set.of("error")),
            Map.entry("quant", Set.of("error", "json", "safetensors")),
            Map.entry("ggml", Set.of()),
            Map.entry("merge", Set.of("quant", "safetensors")),
            Map.entry("lora", Set.of("error", "json", "quant", "safetensors")),
            Map.entry("quality", Set.of("quant")),
            Map.entry("checkpoint", Set.of("error", "json", "safetensors")),
            Map.entry("model", Set.of("checkpoint", "concurrent", "error", "lora", "merge", "quant", "safetensors")),
            Map.entry("format", union(FORMATS, Set.of("error", "json", "lora", "quality", "quant", "safetensors"))),
            Map.entry("format.bnb4bit", Set.of("format", "error", "quality", "quant", "safetensors")),
            Map.entry("format.lora", Set.of("format", "error", "json", "lora", "safetensors")),
            Map.entry("format.merged16bit", Set.of("format")),
            Map.entry("format.gguf", Set.of("format", "error", "ggml", "json", "quality", "quant", "safetensors")),
            Map.entry("format.ct", Set.of("format", "error", "json", "quality", "quant", "safetensors")),
            Map.entry("format.bnb8bit", Set.of("format", "error", "json", "quality", "quant", "safetensors")),
            Map.entry("format.merged4bit", Set.of("format", "format.bnb4bit")),
            Map.entry("gpu", Set.of("error", "quant", "safetensors")),
            Map.entry("transfer", Set.of("error", "util")),
            Map.entry("storage", Set.of("error", "transfer", "util")),
            Map.entry("source", Set.of("checkpoint", "error", "storage", "transfer", "util")),
            Map.entry("target", Set.of("error", "source", "storage", "transfer", "util")),
            Map.entry("convert", Set.of("checkpoint", "concurrent", "error", "format", "gpu", "json", "lora", "merge", "model",
                    "quality", "quant", "safetensors", "target", "util")),
            Map.entry("cache", Set.of("convert", "error", "format", "quant", "safetensors", "target", "util")),
            Map.entry("job", Set.of("cache", "checkpoint", "convert", "error", "format", "quant", "safetensors", "source", "storage",
                    "target", "util")),
            Map.entry("synth", Set.of("checkpoint", "error", "json", "quant", "safetensors", "target")),
            Map.entry("pipeline.events", Set.of("convert", "error", "quality")),
            Map.entry("pipeline", Set.of("checkpoint", "convert", "error", "format", "lora", "quality", "quant", "safetensors", "util",
                    "pipeline.events")),
            Map.entry("pipeline.stage", Set.of("checkpoint", "convert", "error", "format", "lora", "pipeline", "pipeline.events",
                    "quality", "quant", "safetensors", "source", "storage", "target", "util"))));

    @Test
    void everyPackageImportsOnlyWhatTheArchitectureAllows() throws IOException {
        Map<String, Set<String>> actual = imports();
        List<String> violations = new ArrayList<>();
        for (Map.Entry<String, Set<String>> e : actual.entrySet()) {
            Set<String> allowed = ALLOWED.get(e.getKey());
            assertTrue(allowed != null, "package " + e.getKey() + " is not in docs/architecture.md's table (and this test's map)");
            for (String d : e.getValue()) {
                if (!d.equals(e.getKey()) && !allowed.contains(d)) {
                    violations.add(e.getKey() + " -> " + d);
                }
            }
        }
        assertEquals(List.of(), violations);
    }

    @Test
    void noFormatPackageIsImportedOutsideTheFormatsButThroughTheRegistry() throws IOException {
        List<String> violations = new ArrayList<>();
        for (Map.Entry<String, Set<String>> e : imports().entrySet()) {
            if (e.getKey().startsWith("format")) {
                continue;
            }
            e.getValue().stream().filter(FORMATS::contains).forEach(d -> violations.add(e.getKey() + " -> " + d));
        }
        assertEquals(List.of(), violations);
    }

    /** Package (relative to io.quantflow.core) to the core packages its main sources import. */
    private static Map<String, Set<String>> imports() throws IOException {
        Map<String, Set<String>> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(SOURCES)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String pkg = SOURCES.relativize(f.getParent()).toString().replace('/', '.');
                Set<String> deps = out.computeIfAbsent(pkg, k -> new TreeSet<>());
                Matcher m = IMPORT.matcher(Files.readString(f));
                while (m.find()) {
                    deps.add(m.group(1));
                }
            }
        }
        assertTrue(out.size() > 20, "read the core's sources from " + SOURCES.toAbsolutePath());
        return out;
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> s = new TreeSet<>(a);
        s.addAll(b);
        return s;
    }
}
