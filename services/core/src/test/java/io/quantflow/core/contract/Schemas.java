package io.quantflow.core.contract;

import com.networknt.schema.Error;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The repository's {@code schemas/} for tests: each schema by name ({@code manifest},
 * {@code conversion-completed}...), with its {@code $ref}s to {@code https://quantflow.io/schemas/...}
 * served from the folder, nothing from the network.
 */
public final class Schemas {
    private static final String BASE = "https://quantflow.io/schemas/";
    /** The repository's schemas folder. */
    public static final Path DIR = locate();
    private static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12,
            b -> b.schemas(Schemas::schemaText));

    private Schemas() {
    }

    private static Path locate() {
        Path p = Path.of(System.getProperty("user.dir")).resolve("../../schemas").normalize();
        if (!Files.isDirectory(p)) {
            p = Path.of("schemas").toAbsolutePath();
        }
        assertTrue(Files.isDirectory(p), "schemas/ not found at " + p);
        return p;
    }

    private static String schemaText(String iri) {
        if (!iri.startsWith(BASE)) {
            return null;
        }
        try {
            return Files.readString(DIR.resolve(iri.substring(BASE.length())));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The schema {@code schemas/<name>.schema.json}. */
    public static Schema schema(String name) {
        return REGISTRY.getSchema(SchemaLocation.of(BASE + name + ".schema.json"));
    }

    /** What is wrong with a JSON document by the named schema; empty when it is valid. */
    public static List<Error> validate(String name, String json) {
        return schema(name).validate(json, InputFormat.JSON);
    }

    /** Fails unless the JSON document is valid by the named schema. */
    public static void assertValid(String name, String json) {
        List<Error> errors = validate(name, json);
        assertTrue(errors.isEmpty(), name + ": " + errors);
    }
}
