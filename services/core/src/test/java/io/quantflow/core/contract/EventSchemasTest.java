package io.quantflow.core.contract;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.Error;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import io.quantflow.core.Fixtures;
import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.Device;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.pipeline.events.Stage;
import io.quantflow.core.quality.DynamicSelection;
import io.quantflow.core.quality.LayerQuality;
import io.quantflow.core.quality.Quality;
import io.quantflow.core.quality.TensorQuality;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.target.IfExists;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The event contract in {@code schemas/}: every example is valid against its schema, every example
 * under {@code invalid/} is rejected, a manifest the converter really writes is valid, and the
 * schemas' closed sets (error codes, formats, quant types, ifExists, device) and the manifest's
 * fields are exactly those of the Java types, so the contract cannot drift from the code.
 *
 * <p>Examples are named {@code <schema>.json} (valid) and {@code invalid/<schema>.<case>.json}.
 */
class EventSchemasTest {
    private static final List<String> EVENTS = List.of("conversion-requested", "conversion-progress", "conversion-completed",
            "conversion-failed", "shard-work");
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Each invalid example's case, and what its errors must mention: the one change it makes to a valid example. */
    private static final Map<String, String> REJECTED_FOR = Map.ofEntries(
            Map.entry("missing-target", "required property 'target'"),
            Map.entry("bad-format", "/data/outputs/0/format"),
            Map.entry("blocksize-not-power-of-two", "/data/outputs/0/blocksize"),
            Map.entry("two-budgets", "/data/outputs/2/dynamic"),
            Map.entry("target-not-s3", "/data/target/uri"),
            Map.entry("target-hf-commit", "/data/target/uri"),
            Map.entry("data-base64", "data_base64"),
            Map.entry("unknown-code", "/data/code"),
            Map.entry("wrong-type", "/type"),
            Map.entry("bad-sha256", "/sha256"),
            Map.entry("missing-quantize-key", "required property 'quantize'"),
            Map.entry("specversion-0.3", "/specversion"));

    private static final Path SCHEMAS = Schemas.DIR;

    @TempDir
    Path tmp;

    private static Schema schema(String name) {
        return Schemas.schema(name);
    }

    private static List<Error> validate(String schemaName, Path instance) throws IOException {
        return schema(schemaName).validate(Files.readString(instance), InputFormat.JSON);
    }

    private static JsonNode read(String file) throws IOException {
        return JSON.readTree(SCHEMAS.resolve(file).toFile());
    }

    @Test
    void everyEventHasOneValidExample() {
        for (String e : EVENTS) {
            assertTrue(Files.isRegularFile(SCHEMAS.resolve(e + ".schema.json")), e + ".schema.json");
            assertTrue(Files.isRegularFile(SCHEMAS.resolve("examples/" + e + ".json")), "examples/" + e + ".json");
        }
    }

    @TestFactory
    Stream<DynamicTest> validExamplesAreAccepted() throws IOException {
        List<Path> files = list(SCHEMAS.resolve("examples"));
        assertFalse(files.isEmpty());
        return files.stream().map(f -> DynamicTest.dynamicTest(f.getFileName().toString(), () -> {
            // <schema>.json, or <schema>.<case>.json for a further valid example
            String name = f.getFileName().toString().replaceFirst("\\.json$", "").replaceFirst("\\..*$", "");
            List<Error> errors = validate(name, f);
            assertTrue(errors.isEmpty(), f.getFileName() + ": " + errors);
        }));
    }

    @TestFactory
    Stream<DynamicTest> invalidExamplesAreRejected() throws IOException {
        List<Path> files = list(SCHEMAS.resolve("examples/invalid"));
        assertTrue(files.size() >= 4);
        return files.stream().map(f -> DynamicTest.dynamicTest(f.getFileName().toString(), () -> {
            String name = f.getFileName().toString();
            String schemaName = name.substring(0, name.indexOf('.'));
            assertTrue(EVENTS.contains(schemaName), name + " names no event schema");
            String expected = REJECTED_FOR.get(name.substring(schemaName.length() + 1).replaceFirst("\\.json$", ""));
            assertTrue(expected != null, name + ": say in REJECTED_FOR why it must be rejected");
            List<Error> errors = validate(schemaName, f);
            assertFalse(errors.isEmpty(), name + " was accepted");
            assertTrue(errors.stream().anyMatch(e -> e.toString().contains(expected)),
                    name + " was rejected, but not for " + expected + ": " + errors);
        }));
    }

    @Test
    void manifestTheConverterWritesIsValidAndFitsACompletedEvent() throws IOException {
        Path out = tmp.resolve("out");
        new Converter().convert(Converter.Request.bnb4bit(Fixtures.path("tiny-llama/base-bf16"), out, QuantOptions.defaults(),
                IfExists.FAIL, 1), Converter.Listener.NONE);
        Path manifest = out.resolve(Manifest.FILE_NAME);
        List<Error> errors = validate("manifest", manifest);
        assertTrue(errors.isEmpty(), errors.toString());

        ObjectNode event = (ObjectNode) read("examples/conversion-completed.json");
        ObjectNode output = (ObjectNode) event.get("data").get("outputs").get(0);
        output.set("manifest", JSON.readTree(manifest.toFile()));
        List<Error> eventErrors = schema("conversion-completed").validate(JSON.writeValueAsString(event), InputFormat.JSON);
        assertTrue(eventErrors.isEmpty(), eventErrors.toString());
    }

    @Test
    void errorCodesAreTheJavaEnum() throws IOException {
        assertEquals(names(Arrays.stream(ErrorCode.values()).map(Enum::name)), enumAt("common.schema.json", "/$defs/errorCode/enum"));
    }

    @Test
    void outputFormatsAreTheJavaIds() throws IOException {
        assertEquals(names(Formats.all().stream().map(OutputFormat::id)), enumAt("common.schema.json", "/$defs/format/enum"));
    }

    @Test
    void stagesAreTheJavaEnumsWireNames() throws IOException {
        assertEquals(names(Arrays.stream(Stage.values()).map(Stage::wire)), enumAt("common.schema.json", "/$defs/stage/enum"));
    }

    @Test
    void quantTypesAreTheJavaIds() throws IOException {
        assertEquals(names(Arrays.stream(QuantType.values()).map(QuantType::id)), enumAt("common.schema.json", "/$defs/quantType/enum"));
    }

    @Test
    void ifExistsAndDeviceAreTheJavaEnumsInLowerCase() throws IOException {
        assertEquals(names(Arrays.stream(IfExists.values()).map(v -> v.name().toLowerCase(Locale.ROOT))),
                enumAt("common.schema.json", "/$defs/ifExists/enum"));
        assertEquals(names(Arrays.stream(Device.values()).map(v -> v.name().toLowerCase(Locale.ROOT))),
                enumAt("common.schema.json", "/$defs/device/enum"));
        for (String d : enumAt("common.schema.json", "/$defs/device/enum")) {
            assertEquals(d, Device.parse(d).name().toLowerCase(Locale.ROOT));
        }
    }

    @Test
    void blocksizesAreThoseQuantOptionsAccepts() throws IOException {
        Set<String> accepted = new TreeSet<>();
        for (int b = 1; b <= 2 * QuantOptions.MAX_BLOCKSIZE; b++) {
            try {
                new QuantOptions(QuantType.NF4, true, b, QuantOptions.defaults().computeDtype(), List.of());
                accepted.add(Integer.toString(b));
            } catch (IllegalArgumentException e) {
                // not a blocksize
            }
        }
        assertEquals(accepted, enumAt("common.schema.json", "/$defs/blocksize/enum"));
    }

    /** Every field the Java manifest writes is in the schema, and the schema names no field Java lacks (but the one noted). */
    @Test
    void manifestSchemaHasTheFieldsOfTheManifestRecords() throws IOException {
        JsonNode m = read("manifest.schema.json");
        assertFields(Manifest.class, m, Set.of());
        assertFields(Manifest.Source.class, m.at("/properties/source"), Set.of());
        assertFields(Manifest.Adapter.class, m.at("/properties/adapter"), Set.of());
        assertFields(Manifest.Options.class, m.at("/properties/options"), Set.of());
        assertFields(Manifest.Output.class, m.at("/properties/output"), Set.of());
        assertFields(Manifest.FileEntry.class, m.at("/properties/files/items"), Set.of());
        assertFields(Manifest.Timings.class, m.at("/properties/timings"), Set.of());
        assertFields(Manifest.Variant.class, m.at("/properties/variant"), Set.of());
        assertFields(Quality.class, m.at("/$defs/quality"), Set.of());
        assertFields(LayerQuality.class, m.at("/$defs/layerQuality"), Set.of());
        assertFields(TensorQuality.class, m.at("/$defs/tensorQuality"), Set.of());
        assertFields(DynamicSelection.class, m.at("/$defs/dynamicSelection"), Set.of());
    }

    private static void assertFields(Class<? extends Record> type, JsonNode schema, Set<String> schemaOnly) {
        Set<String> java = names(Arrays.stream(type.getRecordComponents()).map(RecordComponent::getName));
        Set<String> inSchema = new TreeSet<>();
        schema.get("properties").fieldNames().forEachRemaining(inSchema::add);
        inSchema.removeAll(schemaOnly);
        assertEquals(java, inSchema, type.getName());
        assertFalse(schema.path("additionalProperties").asBoolean(true), type.getName() + ": the schema must be closed");
    }

    private static Set<String> enumAt(String file, String pointer) throws IOException {
        JsonNode e = read(file).at(pointer);
        assertTrue(e.isArray(), file + "#" + pointer);
        List<String> values = new ArrayList<>();
        e.forEach(v -> values.add(v.asText()));
        Set<String> set = new TreeSet<>(values);
        assertEquals(values.size(), set.size(), "duplicates in " + pointer);
        return set;
    }

    private static Set<String> names(Stream<String> s) {
        return s.collect(Collectors.toCollection(TreeSet::new));
    }

    private static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(".json")).sorted().toList();
        }
    }
}
