package io.quantflow.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.networknt.schema.Error;
import io.quantflow.deploy.Repo.Doc;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static io.quantflow.deploy.Mutation.arr;
import static io.quantflow.deploy.Mutation.item;
import static io.quantflow.deploy.Mutation.obj;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * k8s/: every built-in object valid for the Kubernetes API's models, every custom resource valid
 * against its schema, and every structural check of {@link K8sChecks} passes on the files and fails on
 * a copy broken on purpose.
 */
class K8sTest {
    private static final Repo REPO = Repo.locate();
    private static final List<Doc> DOCS = REPO.k8s();
    private static final JsonNode KUSTOMIZATION = REPO.kustomization();
    private static final Set<String> FILES = REPO.k8sFiles();
    private static final String CONTAINER = "/spec/template/spec/containers/0";

    private static Map<String, List<String>> checks(List<Doc> docs) {
        return K8sChecks.all(docs, KUSTOMIZATION, FILES);
    }

    /** Problems with one object: the API model's for built-in kinds, the schema's for custom resources. */
    private static List<String> validate(Doc d) {
        if (K8sApi.model(d) != null) {
            return K8sApi.validate(d);
        }
        String schema = Schemas.CUSTOM_RESOURCES.get(d.apiVersion() + "/" + d.kind());
        if (schema == null) {
            return List.of(d + ": neither a Kubernetes API model nor a schema for " + d.apiVersion() + " " + d.kind());
        }
        return Schemas.validate(Schemas.customResource(schema), d.node()).stream().map(Error::toString).toList();
    }

    @Test
    void everyFileParsesAndHoldsObjects() {
        for (String f : FILES) {
            assertFalse(Repo.parseAll(REPO.read("k8s/" + f)).isEmpty(), f);
        }
        assertTrue(DOCS.size() >= 20, DOCS.size() + " objects");
    }

    @Test
    void brokenYamlDoesNotParse() {
        String deployment = REPO.read("k8s/fetcher.yaml");
        // an indentation slip, and a key written twice (in YAML the second would silently win)
        assertThrows(UncheckedIOException.class, () -> Repo.parseAll(deployment.replace("\n  selector:", "\n selector:")));
        assertThrows(UncheckedIOException.class, () -> Repo.parseAll(deployment.replace("\n  revisionHistoryLimit: 3",
                "\n  revisionHistoryLimit: 3\n  revisionHistoryLimit: 5")));
    }

    @TestFactory
    Stream<DynamicTest> everyObjectIsValid() {
        return DOCS.stream().map(d -> DynamicTest.dynamicTest(d.toString(), () -> {
            List<String> problems = validate(d);
            assertTrue(problems.isEmpty(), problems.toString());
        }));
    }

    @Test
    void theKindsAreTheExpectedOnes() {
        Set<String> kinds = DOCS.stream().map(d -> d.apiVersion() + " " + d.kind()).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(new TreeSet<>(List.of("apps/v1 Deployment", "kafka.strimzi.io/v1beta2 KafkaTopic", "keda.sh/v1alpha1 ScaledObject",
                "v1 ConfigMap", "v1 Namespace", "v1 Secret", "v1 Service")), kinds);
    }

    /** A broken copy of one object, and what its validation must say. */
    record BrokenObject(String kind, String name, String says, Consumer<JsonNode> change) {
    }

    static List<BrokenObject> brokenObjects() {
        return List.of(
                new BrokenObject("Deployment", "quantizer", "livenessprobe", d -> obj(d, CONTAINER).set("livenessprobe", obj(d, CONTAINER + "/livenessProbe"))),
                new BrokenObject("Deployment", "fetcher", "NumberFormatException", d -> ((ObjectNode) arr(d, CONTAINER + "/ports").get(0)).put("containerPort", "http")),
                new BrokenObject("Deployment", "merger", "required field `name`", d -> obj(d, CONTAINER).remove("name")),
                new BrokenObject("Service", "publisher", "selectors", d -> obj(d, "/spec").set("selectors", obj(d, "/spec/selector"))),
                new BrokenObject("ConfigMap", "quantflow-config", "dta", d -> ((ObjectNode) d).set("dta", obj(d, "/data"))),
                new BrokenObject("Secret", "quantflow-s3", "stringdata", d -> ((ObjectNode) d).set("stringdata", obj(d, "/stringData"))),
                new BrokenObject("Namespace", "quantflow", "labelz", d -> obj(d, "/metadata").set("labelz", obj(d, "/metadata/labels"))),
                new BrokenObject("KafkaTopic", "quantflow-quantize", "partition", d -> obj(d, "/spec").put("partition", 32)),
                new BrokenObject("KafkaTopic", "conversion-failed", "strimzi.io/cluster", d -> obj(d, "/metadata/labels").remove("strimzi.io/cluster")),
                new BrokenObject("KafkaTopic", "conversion-failed", "partitions", d -> obj(d, "/spec").put("partitions", "six")),
                new BrokenObject("ScaledObject", "quantizer", "lagThreshold", d -> obj(d, "/spec/triggers/0/metadata").put("lagThreshold", 1)),
                new BrokenObject("ScaledObject", "merger", "consumergroup", d -> obj(d, "/spec/triggers/0/metadata")
                        .set("consumergroup", obj(d, "/spec/triggers/0/metadata").remove("consumerGroup"))),
                new BrokenObject("ScaledObject", "merger", "maxReplicas", d -> obj(d, "/spec").put("maxReplicas", 4)));
    }

    @TestFactory
    Stream<DynamicTest> validationRejectsBrokenObjects() {
        return brokenObjects().stream().map(b -> DynamicTest.dynamicTest(b.kind() + " " + b.name() + ": " + b.says(), () -> {
            Doc d = Mutation.copy(DOCS, b.kind(), b.name(), b.change()).stream()
                    .filter(x -> x.kind().equals(b.kind()) && x.name().equals(b.name())).findFirst().orElseThrow();
            List<String> problems = validate(d);
            assertTrue(problems.stream().anyMatch(p -> p.contains(b.says())), "not rejected for " + b.says() + ": " + problems);
        }));
    }

    @Test
    void anUnknownKindIsRejected() {
        Doc d = new Doc("x.yaml", 0, Repo.parseOne("apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: x\n"));
        assertFalse(validate(d).isEmpty());
    }

    @TestFactory
    Stream<DynamicTest> everyCheckPasses() {
        return checks(DOCS).entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey(),
                () -> assertTrue(e.getValue().isEmpty(), e.getKey() + ": " + e.getValue())));
    }

    /** A broken copy of the objects: which check must catch it and what its message must say. */
    record Broken(String check, String says, Function<List<Doc>, List<Doc>> change) {
        static Broken of(String check, String says, String kind, String name, Consumer<JsonNode> change) {
            return new Broken(check, says, docs -> Mutation.copy(docs, kind, name, change));
        }
    }

    static List<Broken> brokenCopies() {
        return List.of(
                new Broken("identity", "apiVersion, kind and metadata.name are required",
                        docs -> Mutation.copy(docs, "ConfigMap", "quantflow-config", d -> obj(d, "/metadata").remove("name"))),
                new Broken("identity", "a second Deployment", docs -> Stream.concat(docs.stream(),
                        docs.stream().filter(d -> d.kind().equals("Deployment") && d.name().equals("merger"))).toList()),
                Broken.of("deploymentSelectors", "does not match the pod template's labels", "Deployment", "fetcher",
                        d -> obj(d, "/spec/template/metadata/labels").put("app.kubernetes.io/name", "fetch")),
                Broken.of("services", "selects 0 Deployments' pods", "Service", "merger",
                        d -> obj(d, "/spec/selector").put("app.kubernetes.io/name", "mergr")),
                Broken.of("services", "targetPort \"metrics\" is no container port", "Service", "publisher",
                        d -> ((ObjectNode) arr(d, "/spec/ports").get(0)).put("targetPort", "metrics")),
                Broken.of("envReferences", "refers to key KAFKA_BOOTSTRAP_SERVER, which ConfigMap quantflow-config has not", "Deployment", "quantizer",
                        d -> obj(item(d, CONTAINER + "/env", "name", "KAFKA_BOOTSTRAP_SERVERS"), "/valueFrom/configMapKeyRef")
                                .put("key", "KAFKA_BOOTSTRAP_SERVER")),
                Broken.of("envReferences", "refers to Secret quantflow-s4, which is not here", "Deployment", "merger",
                        d -> obj(item(d, CONTAINER + "/env", "name", "AWS_ACCESS_KEY_ID"), "/valueFrom/secretKeyRef").put("name", "quantflow-s4")),
                Broken.of("probes", "livenessProbe is not an HTTP GET of /q/health/live", "Deployment", "publisher",
                        d -> obj(d, CONTAINER + "/livenessProbe/httpGet").put("path", "/health")),
                Broken.of("probes", "has no readinessProbe", "Deployment", "fetcher", d -> obj(d, CONTAINER).remove("readinessProbe")),
                Broken.of("probes", "port \"https\" is no container port", "Deployment", "merger",
                        d -> obj(d, CONTAINER + "/readinessProbe/httpGet").put("port", "https")),
                Broken.of("security", "runAsNonRoot is not true", "Deployment", "quantizer",
                        d -> obj(d, "/spec/template/spec/securityContext").put("runAsNonRoot", false)),
                Broken.of("security", "may escalate privileges", "Deployment", "fetcher",
                        d -> obj(d, CONTAINER + "/securityContext").remove("allowPrivilegeEscalation")),
                Broken.of("resources", "has no resources.limits.memory", "Deployment", "merger",
                        d -> obj(d, CONTAINER + "/resources/limits").remove("memory")),
                Broken.of("scratch", "nothing is mounted at QUANTFLOW_WORK_DIR /scratch", "Deployment", "fetcher",
                        d -> item(d, CONTAINER + "/volumeMounts", "name", "scratch").put("mountPath", "/data")),
                Broken.of("scratch", "is not an emptyDir with a sizeLimit", "Deployment", "quantizer",
                        d -> obj(item(d, "/spec/template/spec/volumes", "name", "scratch"), "/emptyDir").remove("sizeLimit")),
                Broken.of("metrics", "prometheus.io/path is not /q/metrics", "Deployment", "publisher",
                        d -> obj(d, "/spec/template/metadata/annotations").put("prometheus.io/path", "/metrics")),
                Broken.of("metrics", "prometheus.io/port 9090 is no container port", "Deployment", "merger",
                        d -> obj(d, "/spec/template/metadata/annotations").put("prometheus.io/port", "9090")),
                Broken.of("gpu", "does not tolerate the nvidia.com/gpu taint", "Deployment", "quantizer",
                        d -> obj(d, "/spec/template/spec").remove("tolerations")),
                Broken.of("gpu", "no resources.limits nvidia.com/gpu", "Deployment", "quantizer", d -> {
                    obj(d, CONTAINER + "/resources/limits").remove("nvidia.com/gpu");
                    obj(d, CONTAINER + "/resources/requests").remove("nvidia.com/gpu");
                }),
                Broken.of("gpu", "asks for a GPU it does not use", "Deployment", "merger",
                        d -> obj(d, CONTAINER + "/resources/limits").put("nvidia.com/gpu", "1")),
                new Broken("pipelineServices", "no Service publisher",
                        docs -> Mutation.without(docs, d -> d.kind().equals("Service") && d.name().equals("publisher"))),
                Broken.of("pipelineServices", "KAFKA_GROUP_ID quantflow-publish, not quantflow-publisher", "Deployment", "publisher",
                        d -> item(d, CONTAINER + "/env", "name", "KAFKA_GROUP_ID").put("value", "quantflow-publish")),
                Broken.of("pipelineServices", "env QUANTFLOW_THREADS is no setting the services read", "Deployment", "quantizer",
                        d -> arr(d, CONTAINER + "/env").add(Repo.parseOne("name: QUANTFLOW_THREADS\nvalue: \"8\""))),
                Broken.of("pipelineServices", "HF_TOKEN is for the fetcher only", "Deployment", "merger",
                        d -> arr(d, CONTAINER + "/env").add(Repo.parseOne("name: HF_TOKEN\nvalue: x"))),
                Broken.of("pipelineServices", "env AWS_REGION is not set", "Deployment", "fetcher",
                        d -> arr(d, CONTAINER + "/env").remove(indexOf(arr(d, CONTAINER + "/env"), "AWS_REGION"))),
                Broken.of("topics", "fewer than the 30 pods", "KafkaTopic", "quantflow-quantize", d -> obj(d, "/spec").put("partitions", 12)),
                new Broken("topics", "topic quantflow-publish-dlq has no KafkaTopic",
                        docs -> Mutation.without(docs, d -> d.kind().equals("KafkaTopic") && d.name().equals("quantflow-publish-dlq"))),
                Broken.of("topics", "a dead-letter topic with 3 partitions", "KafkaTopic", "quantflow-merge-dlq", d -> obj(d, "/spec").put("partitions", 3)),
                Broken.of("topics", "min.insync.replicas 3 leaves no replica to lose", "KafkaTopic", "conversion-completed",
                        d -> obj(d, "/spec/config").put("min.insync.replicas", 3)),
                Broken.of("topics", "no strimzi.io/cluster label", "KafkaTopic", "conversion-progress",
                        d -> obj(d, "/metadata/labels").remove("strimzi.io/cluster")),
                Broken.of("scaledObjects", "scaleTargetRef Deployment quantiser is no Deployment here", "ScaledObject", "quantizer",
                        d -> obj(d, "/spec/scaleTargetRef").put("name", "quantiser")),
                Broken.of("scaledObjects", "consumerGroup quantflow-quantizers", "ScaledObject", "quantizer",
                        d -> obj(d, "/spec/triggers/0/metadata").put("consumerGroup", "quantflow-quantizers")),
                Broken.of("scaledObjects", "quantizer does not consume quantflow-merge", "ScaledObject", "quantizer",
                        d -> obj(d, "/spec/triggers/0/metadata").put("topic", "quantflow-merge")),
                Broken.of("scaledObjects", "maxReplicaCount 40 exceeds quantflow-quantize's 32 partitions", "ScaledObject", "quantizer",
                        d -> obj(d, "/spec").put("maxReplicaCount", 40)),
                Broken.of("scaledObjects", "is not namespace-qualified", "ScaledObject", "merger",
                        d -> obj(d, "/spec/triggers/0/metadata").put("bootstrapServers", "quantflow-kafka-bootstrap:9092")),
                Broken.of("scaledObjects", "sets replicas, which every apply would reset", "Deployment", "merger",
                        d -> obj(d, "/spec").put("replicas", 1)),
                new Broken("scaledObjects", "no ScaledObject for merger",
                        docs -> Mutation.without(docs, d -> d.kind().equals("ScaledObject") && d.name().equals("merger"))));
    }

    private static int indexOf(ArrayNode env, String name) {
        for (int i = 0; i < env.size(); i++) {
            if (name.equals(env.get(i).path("name").asText())) {
                return i;
            }
        }
        throw new IllegalArgumentException("no env " + name + ": the mutation is out of date");
    }

    @TestFactory
    Stream<DynamicTest> everyCheckFailsOnABrokenCopy() {
        return brokenCopies().stream().map(b -> DynamicTest.dynamicTest(b.check() + ": " + b.says(), () -> {
            List<String> problems = checks(b.change().apply(DOCS)).get(b.check());
            assertNotNull(problems, "no check " + b.check());
            assertTrue(problems.stream().anyMatch(p -> p.contains(b.says())),
                    b.check() + " did not report \"" + b.says() + "\"; it said " + problems);
        }));
    }

    @Test
    void theKustomizationCheckFailsOnABrokenCopy() {
        JsonNode k = Mutation.copy(KUSTOMIZATION, c -> {
            ArrayNode r = arr(c, "/resources");
            for (int i = 0; i < r.size(); i++) {
                if (r.get(i).asText().equals("autoscaling.yaml")) {
                    r.set(i, TextNode.valueOf("autoscale.yaml"));
                }
            }
        });
        List<String> problems = K8sChecks.kustomization(k, FILES);
        assertTrue(problems.contains("k8s/autoscaling.yaml is not listed in kustomization.yaml"), problems.toString());
        assertTrue(problems.contains("kustomization.yaml lists autoscale.yaml, which is not in k8s/"), problems.toString());
        assertFalse(K8sChecks.kustomization(Mutation.copy(KUSTOMIZATION, c -> ((ObjectNode) c).remove("namespace")), FILES).isEmpty());
    }

    @Test
    void everyCheckHasABrokenCopy() {
        Set<String> covered = brokenCopies().stream().map(Broken::check).collect(Collectors.toCollection(TreeSet::new));
        covered.add("kustomization");
        assertEquals(new TreeSet<>(checks(DOCS).keySet()), covered);
    }
}
