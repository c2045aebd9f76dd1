package io.quantflow.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.networknt.schema.Error;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static io.quantflow.deploy.Mutation.arr;
import static io.quantflow.deploy.Mutation.obj;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * docker-compose.yml: valid against the compose-spec JSON Schema, and every structural check of
 * {@link ComposeChecks} passes on it and fails on a copy broken on purpose.
 */
class ComposeTest {
    private static final Repo REPO = Repo.locate();
    private static final JsonNode COMPOSE = REPO.compose();

    private static Map<String, List<String>> checks(JsonNode compose) {
        return ComposeChecks.all(compose, REPO::isFile, REPO::isDirectory);
    }

    @Test
    void validAgainstTheComposeSpecSchema() {
        List<Error> errors = Schemas.validate(Schemas.compose(), COMPOSE);
        assertTrue(errors.isEmpty(), "docker-compose.yml: " + errors);
    }

    /** A broken copy for the schema: what its errors must mention, and the change. */
    record Invalid(String says, Consumer<JsonNode> change) {
    }

    @TestFactory
    Stream<DynamicTest> theComposeSpecSchemaRejectsBrokenCopies() {
        List<Invalid> broken = List.of(
                new Invalid("'enviroment' is not defined",
                        c -> obj(c, "/services/merger").set("enviroment", obj(c, "/services/merger/environment").deepCopy())),
                new Invalid("/services/fetcher/depends_on/kafka/condition",
                        c -> obj(c, "/services/fetcher/depends_on/kafka").put("condition", "service_ready")),
                new Invalid("/services/kafka/healthcheck/retries", c -> obj(c, "/services/kafka/healthcheck").put("retries", "many")),
                new Invalid("'devices' is not defined", c -> obj(c, "/services/quantizer/deploy/resources").set("limits",
                        obj(c, "/services/quantizer/deploy/resources/reservations").deepCopy())),
                new Invalid("'buld' is not defined", c -> obj(c, "/services/publisher").set("buld", obj(c, "/services/publisher").remove("build"))));
        return broken.stream().map(b -> DynamicTest.dynamicTest(b.says(), () -> {
            List<Error> errors = Schemas.validate(Schemas.compose(), Mutation.copy(COMPOSE, b.change()));
            assertTrue(errors.stream().anyMatch(e -> e.toString().contains(b.says())), "not rejected for " + b.says() + ": " + errors);
        }));
    }

    @TestFactory
    Stream<DynamicTest> everyCheckPasses() {
        return checks(COMPOSE).entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey(),
                () -> assertTrue(e.getValue().isEmpty(), e.getKey() + ": " + e.getValue())));
    }

    /** A broken copy: which check must catch it, what its message must say, and the change. */
    record Broken(String check, String says, Consumer<JsonNode> change) {
    }

    static List<Broken> brokenCopies() {
        return List.of(
                new Broken("dependsOn", "no such service",
                        c -> obj(c, "/services/fetcher/depends_on").set("kafka-int", obj(c, "/services/fetcher/depends_on/kafka-init").deepCopy())),
                new Broken("dependsOn", "never completes", c -> obj(c, "/services/minio-init").put("restart", "unless-stopped")),
                new Broken("dependsOn", "has no health check", c -> obj(c, "/services/minio").remove("healthcheck")),
                new Broken("builds", "no Dockerfile at services/fetcher/src/main/docker/Dockerfile.native",
                        c -> obj(c, "/services/fetcher/build").put("dockerfile", "src/main/docker/Dockerfile.native")),
                new Broken("builds", "is not a folder", c -> obj(c, "/services/merger/build").put("context", "services/mergr")),
                new Broken("gpu", "no NVIDIA GPU reservation", c -> obj(c, "/services/quantizer").remove("deploy")),
                new Broken("gpu", "without driver nvidia",
                        c -> ((ObjectNode) arr(c, "/services/quantizer/deploy/resources/reservations/devices").get(0)).put("driver", "amd")),
                new Broken("topics", "topic quantflow-quantize is not created", c -> obj(c, "/services/kafka-init/environment")
                        .put("TOPICS", c.at("/services/kafka-init/environment/TOPICS").asText().replace("quantflow-quantize:3", ""))),
                new Broken("topics", "has 3 partitions, not 1", c -> obj(c, "/services/kafka-init/environment")
                        .put("TOPICS", c.at("/services/kafka-init/environment/TOPICS").asText().replace("quantflow-merge-dlq:1", "quantflow-merge-dlq:3"))),
                new Broken("topics", "made silently", c -> obj(c, "/services/kafka/environment").put("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "true")),
                new Broken("buckets", "bucket models is not created", c -> {
                    arr(c, "/services/minio-init/command").removeAll();
                    arr(c, "/services/minio-init/command").add("mb").add("--ignore-existing").add("local/quantflow-work");
                }),
                new Broken("buckets", "QUANTFLOW_WORK_BUCKET quantflow-scratch",
                        c -> obj(c, "/services/publisher/environment").put("QUANTFLOW_WORK_BUCKET", "quantflow-scratch")),
                new Broken("serviceEnvironment", "merger: AWS_REGION is not set", c -> obj(c, "/services/merger/environment").remove("AWS_REGION")),
                new Broken("serviceEnvironment", "host broker is not a compose service",
                        c -> obj(c, "/services/quantizer/environment").put("KAFKA_BOOTSTRAP_SERVERS", "broker:9092")),
                new Broken("serviceEnvironment", "is not a mounted volume",
                        c -> obj(c, "/services/fetcher/environment").put("QUANTFLOW_WORK_DIR", "/tmp/work")),
                new Broken("serviceEnvironment", "HF_TOKEN is for the fetcher only",
                        c -> obj(c, "/services/publisher/environment").put("HF_TOKEN", "${HF_TOKEN:-}")),
                new Broken("serviceEnvironment", "not quantflow-quantizer",
                        c -> obj(c, "/services/quantizer/environment").put("KAFKA_GROUP_ID", "quantflow-quantize")),
                new Broken("serviceEnvironment", "merger: QUANTFLOW_THREADS is no setting the services read",
                        c -> obj(c, "/services/merger/environment").put("QUANTFLOW_THREADS", "4")),
                new Broken("serviceEnvironment", "publisher: not in docker-compose.yml", c -> obj(c, "/services").remove("publisher")),
                new Broken("healthchecks", "publisher: no health check", c -> obj(c, "/services/publisher").remove("healthcheck")),
                new Broken("healthchecks", "does not ask /q/health/", c -> obj(c, "/services/merger").set("healthcheck",
                        Repo.parseOne("test: [\"CMD\", \"true\"]"))),
                new Broken("interpolation", "$TOPICS would be taken from the host's environment", c -> arr(c, "/services/kafka-init/command")
                        .set(0, TextNode.valueOf(c.at("/services/kafka-init/command/0").asText().replace("$$TOPICS", "$TOPICS")))),
                new Broken("interpolation", "is no valid interpolation", c -> arr(c, "/services/kafka-init/command")
                        .set(0, TextNode.valueOf(c.at("/services/kafka-init/command/0").asText().replace("$${spec%%:*}", "${spec%%:*}")))),
                new Broken("volumes", "volume fetcher-scratc is not declared",
                        c -> arr(c, "/services/fetcher/volumes").set(0, TextNode.valueOf("fetcher-scratc:/scratch"))),
                new Broken("ports", "host port 8081 is also published by",
                        c -> arr(c, "/services/merger/ports").set(0, TextNode.valueOf("127.0.0.1:8081:8080"))));
    }

    @TestFactory
    Stream<DynamicTest> everyCheckFailsOnABrokenCopy() {
        return brokenCopies().stream().map(b -> DynamicTest.dynamicTest(b.check() + ": " + b.says(), () -> {
            List<String> problems = checks(Mutation.copy(COMPOSE, b.change())).get(b.check());
            assertTrue(problems.stream().anyMatch(p -> p.contains(b.says())),
                    b.check() + " did not report \"" + b.says() + "\"; it said " + problems);
        }));
    }

    @Test
    void everyCheckHasABrokenCopy() {
        Set<String> covered = brokenCopies().stream().map(Broken::check).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(new TreeSet<>(checks(COMPOSE).keySet()), covered);
    }

    @Test
    void everyTopicAndBucketIsThere() {
        assertTrue(ComposeChecks.initTopics(COMPOSE).keySet().containsAll(Pipeline.topics()));
        assertTrue(ComposeChecks.initBuckets(COMPOSE).containsAll(List.of(Pipeline.WORK_BUCKET, Pipeline.MODELS_BUCKET)));
    }
}
