package io.quantflow.deploy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Error;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import com.networknt.schema.dialect.Dialect;
import com.networknt.schema.dialect.Dialects;
import com.networknt.schema.keyword.NonValidationKeyword;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * The JSON Schemas under src/test/resources/schema, served from the class path (nothing is fetched):
 * the compose-spec's (see schema/README.md for where it comes from) and the two hand-written ones of
 * the custom resources.
 */
final class Schemas {
    private Schemas() {
    }

    static final ObjectMapper JSON = new ObjectMapper();
    private static final String BASE = "https://quantflow.io/deploy/schema/";

    /** Custom resources' schemas by apiVersion/kind. */
    static final Map<String, String> CUSTOM_RESOURCES = Map.of(
            "kafka.strimzi.io/v1beta2/KafkaTopic", "strimzi-kafkatopic-v1beta2.schema.json",
            "keda.sh/v1alpha1/ScaledObject", "keda-scaledobject-v1alpha1.schema.json");

    private static String resource(String name) {
        try (InputStream in = Schemas.class.getResourceAsStream("/schema/" + name)) {
            if (in == null) {
                return null;
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String load(String iri) {
        return iri.startsWith(BASE) ? resource(iri.substring(BASE.length())) : null;
    }

    private static final SchemaRegistry DRAFT_2020_12 = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12,
            b -> b.schemas(Schemas::load));
    /**
     * The compose-spec's dialect: draft 2019-09 (the file names its http: IRI, which the validator reads as https:), with its leftover draft-4
     * {@code id} members taken as the annotations they are (its references are JSON pointers).
     */
    private static final Dialect COMPOSE_DIALECT = Dialect.builder("https://json-schema.org/draft/2019-09/schema", Dialects.getDraft201909())
            .keyword(new NonValidationKeyword("id"))
            .build();
    private static final SchemaRegistry DRAFT_2019_09 = SchemaRegistry.withDialect(COMPOSE_DIALECT, b -> b.schemas(Schemas::load));

    /** The compose-spec schema (draft 2019-09). */
    static Schema compose() {
        return DRAFT_2019_09.getSchema(SchemaLocation.of(BASE + "compose-spec.json"));
    }

    static Schema customResource(String file) {
        return DRAFT_2020_12.getSchema(SchemaLocation.of(BASE + file));
    }

    static List<Error> validate(Schema schema, JsonNode instance) {
        try {
            return schema.validate(JSON.writeValueAsString(instance), InputFormat.JSON);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
