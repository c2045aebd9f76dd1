package io.quantflow.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import io.quantflow.deploy.Repo.Doc;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

import static io.quantflow.deploy.Nodes.elements;
import static io.quantflow.deploy.Nodes.fields;
import static io.quantflow.deploy.Nodes.strings;

/**
 * Checks of k8s/ that no schema of a single object can make: references between objects (selectors,
 * ports, Secrets and ConfigMaps, scale targets, topics), and what the pipeline needs of them (probes,
 * metrics, scratch, GPU, topics, autoscaling). Each returns what is wrong (empty when nothing is); the
 * tests run each on the real files and on broken copies.
 */
final class K8sChecks {
    private K8sChecks() {
    }

    static final List<String> REQUIRED_ENV = ComposeChecks.REQUIRED_ENV;

    /** Every check, by name. */
    static Map<String, List<String>> all(List<Doc> docs, JsonNode kustomization, Set<String> filesInFolder) {
        Map<String, List<String>> m = new LinkedHashMap<>();
        m.put("kustomization", kustomization(kustomization, filesInFolder));
        m.put("identity", identity(docs));
        m.put("deploymentSelectors", deploymentSelectors(docs));
        m.put("services", services(docs));
        m.put("envReferences", envReferences(docs));
        m.put("probes", probes(docs));
        m.put("security", security(docs));
        m.put("resources", resources(docs));
        m.put("scratch", scratch(docs));
        m.put("metrics", metrics(docs));
        m.put("gpu", gpu(docs));
        m.put("pipelineServices", pipelineServices(docs));
        m.put("topics", topics(docs));
        m.put("scaledObjects", scaledObjects(docs));
        return m;
    }

    static List<Doc> ofKind(List<Doc> docs, String kind) {
        return docs.stream().filter(d -> d.kind().equals(kind)).toList();
    }

    static Optional<Doc> find(List<Doc> docs, String kind, String name) {
        return docs.stream().filter(d -> d.kind().equals(kind) && d.name().equals(name)).findFirst();
    }

    static JsonNode podSpec(Doc deployment) {
        return deployment.node().path("spec").path("template").path("spec");
    }

    static List<JsonNode> containers(Doc deployment) {
        List<JsonNode> all = new ArrayList<>(elements(podSpec(deployment).path("containers")));
        all.addAll(elements(podSpec(deployment).path("initContainers")));
        return all;
    }

    static Map<String, String> podLabels(Doc deployment) {
        return strings(deployment.node().path("spec").path("template").path("metadata").path("labels"));
    }

    /** A container port by name or by number. */
    static boolean declaresPort(Doc deployment, JsonNode port) {
        for (JsonNode c : containers(deployment)) {
            for (JsonNode p : elements(c.path("ports"))) {
                if (port.isInt() && p.path("containerPort").asInt(-1) == port.asInt()
                        || port.isTextual() && port.asText().equals(p.path("name").asText(null))
                        || port.isTextual() && port.asText().equals(p.path("containerPort").asText())) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The value of a container's environment variable: literal, or from a ConfigMap in docs. */
    static Optional<String> envValue(List<Doc> docs, JsonNode container, String name) {
        for (JsonNode e : elements(container.path("env"))) {
            if (!name.equals(e.path("name").asText())) {
                continue;
            }
            if (e.has("value")) {
                return Optional.of(e.get("value").asText());
            }
            JsonNode ref = e.path("valueFrom").path("configMapKeyRef");
            if (!ref.isMissingNode()) {
                return find(docs, "ConfigMap", ref.path("name").asText())
                        .map(cm -> cm.node().path("data").path(ref.path("key").asText()))
                        .filter(JsonNode::isValueNode).map(JsonNode::asText);
            }
        }
        return Optional.empty();
    }

    static Set<String> envNames(JsonNode container) {
        Set<String> names = new LinkedHashSet<>();
        elements(container.path("env")).forEach(e -> names.add(e.path("name").asText()));
        return names;
    }

    /** The kustomization lists exactly the YAML files of k8s/, and sets the namespace. */
    static List<String> kustomization(JsonNode kustomization, Set<String> filesInFolder) {
        List<String> problems = new ArrayList<>();
        Set<String> listed = new TreeSet<>();
        elements(kustomization.path("resources")).forEach(r -> listed.add(r.asText()));
        for (String f : filesInFolder) {
            if (!listed.contains(f)) {
                problems.add("k8s/" + f + " is not listed in kustomization.yaml");
            }
        }
        for (String f : listed) {
            if (!filesInFolder.contains(f)) {
                problems.add("kustomization.yaml lists " + f + ", which is not in k8s/");
            }
        }
        if (kustomization.path("namespace").asText("").isEmpty()) {
            problems.add("kustomization.yaml sets no namespace");
        }
        return problems;
    }

    /** Every object has apiVersion, kind and metadata.name, and no two share kind and name. */
    static List<String> identity(List<Doc> docs) {
        List<String> problems = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (Doc d : docs) {
            if (d.apiVersion().isEmpty() || d.kind().isEmpty() || d.name().isEmpty()) {
                problems.add(d + ": apiVersion, kind and metadata.name are required");
            } else if (!seen.add(d.apiVersion().replaceAll("/.*", "") + "/" + d.kind() + "/" + d.name())) {
                problems.add(d + ": a second " + d.kind() + " of that name");
            }
        }
        return problems;
    }

    /** Each Deployment's selector is non-empty and matches its own pod template's labels. */
    static List<String> deploymentSelectors(List<Doc> docs) {
        List<String> problems = new ArrayList<>();
        for (Doc d : ofKind(docs, "Deployment")) {
            Map<String, String> selector = strings(d.node().path("spec").path("selector").path("matchLabels"));
            Map<String, String> labels = podLabels(d);
            if (selector.isEmpty()) {
                problems.add(d + ": empty selector.matchLabels");
            }
            selector.forEach((k, v) -> {
                if (!v.equals(labels.get(k))) {
                    problems.add(d + ": selector " + k + "=" + v + " does not match the pod template's labels " + labels);
                }
            });
        }
        return problems;
    }

    /** Each Service selects exactly one Deployment's pods and targets ports that Deployment declares. */
    static List<String> services(List<Doc> docs) {
        List<String> problems = new ArrayList<>();
        for (Doc s : ofKind(docs, "Service")) {
            Map<String, String> selector = strings(s.node().path("spec").path("selector"));
            if (selector.isEmpty()) {
                problems.add(s + ": no selector");
                continue;
            }
            List<Doc> selected = ofKind(docs, "Deployment").stream()
                    .filter(d -> podLabels(d).entrySet().containsAll(selector.entrySet())).toList();
            if (selected.size() != 1) {
                problems.add(s + ": selector " + selector + " selects " + selected.size() + " Deployments' pods, not 1");
                continue;
            }
            for (JsonNode p : elements(s.node().path("spec").path("ports"))) {
                JsonNode target = p.has("targetPort") ? p.get("targetPort") : p.path("port");
                if (!declaresPort(selected.get(0), target)) {
                    problems.add(s + ": targetPort " + target + " is no container port of " + selected.get(0));
                }
            }
        }
        return problems;
    }

    /** Every secretKeyRef / configMapKeyRef / envFrom names a Secret or ConfigMap here, and a key it has. */
    static List<String> envReferences(List<Doc> docs) {
        List<String> problems = new ArrayList<>();
        for (Doc d : ofKind(docs, "Deployment")) {
            for (JsonNode c : containers(d)) {
                for (JsonNode e : elements(c.path("env"))) {
                    for (String kind : List.of("secretKeyRef", "configMapKeyRef")) {
                        JsonNode ref = e.path("valueFrom").path(kind);
                        if (ref.isMissingNode()) {
                            continue;
                        }
                        String objKind = kind.equals("secretKeyRef") ? "Secret" : "ConfigMap";
                        String name = ref.path("name").asText();
                        String key = ref.path("key").asText();
                        Optional<Doc> obj = find(docs, objKind, name);
                        if (obj.isEmpty()) {
                            problems.add(d + ": env " + e.path("name").asText() + " refers to " + objKind + " " + name + ", which is not here");
                        } else if (!obj.get().node().path("data").has(key) && !obj.get().node().path("stringData").has(key)) {
                            problems.add(d + ": env " + e.path("name").asText() + " refers to key " + key + ", which " + objKind + " " + name + " has not");
                        }
                    }
                }
                for (JsonNode f : elements(c.path("envFrom"))) {
                    for (String kind : List.of("secretRef", "configMapRef")) {
                        if (f.has(kind) && find(docs, kind.equals("secretRef") ? "Secret" : "ConfigMap", f.get(kind).path("name").asText()).isEmpty()) {
                            problems.add(d + ": envFrom " + kind + " " + f.get(kind).path("name").asText() + " is not here");
                        }
                    }
                }
            }
        }
        return problems;
    }

    /** Liveness on /q/health/live, readiness on /q/health/ready, a startup probe (if any) on /q/health/..., at a declared port. */
    static List<String> probes(List<Doc> docs) {
        List<String> problems = new ArrayList<>();
        for (Doc d : ofKind(docs, "Deployment")) {
            for (JsonNode c : elements(podSpec(d).path("containers"))) {
                for (Map.Entry<String, String> want : Map.of("livenessProbe", "/q/health/live", "readinessProbe", "/q/health/ready",
                        "startupProbe", "/q/health/").entrySet()) {
                    JsonNode probe = c.get(want.getKey());
                    if (probe == null) {
                        if (!want.getKey().equals("startupProbe")) {
                            problems.add(d + ": container " + c.path("name").asText() + " has no " + want.getKey());
                        }
                        continue;
                    }
                    JsonNode get = probe.path("httpGet");
                    String path = get.path("path").asText("");
                    boolean ok = want.getKey().equals("startupProbe") ? path.startsWith(want.getValue()) : path.equals(want.getValue());
                    if (!ok) {
                        problems.add(d + ": " + want.getKey() + " is not an HTTP GET of " + want.getValue() + " (" + get + ")");
                    }
                    if (!get.has("port") || !declaresPort(d, get.get("port"))) {
                        problems.add(d + ": " + want.getKey() + " port " + get.path("port") + " is no container port");
                    }
                }
            }
        }
        return problems;
    }

    /** Pods run as non-root; containers cannot escalate and drop every capability. */
    static List<String> security(List<Doc> docs) {
        List<String> problems = new ArrayList<>();
        for (Doc d : ofKind(docs, "Deployment")) {
            JsonNode pod = podSpec(d).path("securityContext");
            if (!pod.path("runAsNonRoot").asBoolean(false)) {
                problems.add(d + ": securityContext.runAsNonRoot is not true");
            }
            if (pod.has("runAsUser") && pod.get("runAsUser").asInt() == 0) {
                problems.add(d + ": runAsUser 0");
            }
            for (JsonNode c : containers(d)) {
                JsonNode sc = c.path("securityContext");
                if (sc.path("allowPrivilegeEscalation").asBoolean(true)) {
                    problems.add(d + ": container " + c.path("name").asText() + " may escalate privileges");
                }
                if (elements(sc.path("capabilities").path("drop")).stream().noneMatch(x -> x.asText().equals("ALL"))) {
                    problems.add(d + ": container " + c.path("name").asText() + " does not drop ALL capabilities");
                }
                if (sc.path("privileged").asBoolean(false)) {
                    problems.add(d + ": container " + c.path("name").asText() + " is privileged");
                }
            }
        }
        return problems;
    }

    /** Every container requests CPU and memory and has a memory limit. */
    static List<String> resources(List<Doc> docs) {
        List<String> problems = new ArrayList<>();
        for (Doc d : ofKind(docs, "Deployment")) {
            for (JsonNode c : containers(d)) {
                JsonNode r = c.path("resources");
                for (String need : List.of("requests/cpu", "requests/memory", "limits/memory")) {
                    String[] p = need.split("/");
                    if (!r.path(p[0]).has(p[1])) {
                        problems.add(d + ": container " + c.path("name").asText() + " has no resources." + p[0] + "." + p[1]);
                    }
                }
            }
        }
        return problems;
    }

    /** QUANTFLOW_WORK_DIR is where an emptyDir with a sizeLimit is mounted. */
    static List<String> scratch(List<Doc> docs) {
        List<String> problems = new ArrayList<>();
        for (Doc d : ofKind(docs, "Deployment")) {
            Map<String, JsonNode> volumes = new LinkedHashMap<>();
            elements(podSpec(d).path("volumes")).forEach(v -> volumes.put(v.path("name").asText(), v));
            for (JsonNode c : elements(podSpec(d).path("containers"))) {
                Optional<String> dir = envValue(docs, c, "QUANTFLOW_WORK_DIR");
                if (dir.isEmpty()) {
                    problems.add(d + ": QUANTFLOW_WORK_DIR is not set (or its ConfigMap key is missing)");
                    continue;
                }
                Optional<JsonNode> mount = elements(c.path("volumeMounts")).stream()
                        .filter(m -> m.path("mountPath").asText().equals(dir.get())).findFirst();
                if (mount.isEmpty()) {
                    problems.add(d + ": nothing is mounted at QUANTFLOW_WORK_DIR " + dir.get());
                    continue;
                }
                JsonNode v = volumes.get(mount.get().path("name").asText());
                if (v == null) {
                    problems.add(d + ": volumeMount " + mount.get().path("name").asText() + " names no volume");
                } else if (!v.path("emptyDir").has("sizeLimit")) {
                    problems.add(d + ": the scratch volume " + v.path("name").asText() + " is not an emptyDir with a sizeLimit");
                }
            }
            for (JsonNode c : containers(d)) {
                for (JsonNode m : elements(c.path("volumeMounts"))) {
                    if (!volumes.containsKey(m.path("name").asText())) {
                        problems.add(d + ": volumeMount " + m.path("name").asText() + " names no volume");
                    }
                }
            }
        }
        return problems;
    }

    /** Pods carry Prometheus' scrape annotations for /q/metrics on a declared port. */
    static List<String> metrics(List<Doc> docs) {
        List<String> problems = new ArrayList<>();
        for (Doc d : ofKind(docs, "Deployment")) {
            Map<String, String> a = strings(d.node().path("spec").path("template").path("metadata").path("annotations"));
            if (!"true".equals(a.get("prometheus.io/scrape"))) {
                problems.add(d + ": pod annotation prometheus.io/scrape is not \"true\"");
            }
            if (!"/q/metrics".equals(a.get("prometheus.io/path"))) {
                problems.add(d + ": pod annotation prometheus.io/path is not /q/metrics");
            }
            String port = a.get("prometheus.io/port");
            if (port == null || !port.matches("[0-9]+") || !declaresPort(d, com.fasterxml.jackson.databind.node.IntNode.valueOf(Integer.parseInt(port)))) {
                problems.add(d + ": pod annotation prometheus.io/port " + port + " is no container port");
            }
        }
        return problems;
    }

    /** The quantizer gets an NVIDIA GPU (limit), runs on GPU nodes and tolerates their taint; no other pod asks for one. */
    static List<String> gpu(List<Doc> docs) {
        List<String> problems = new ArrayList<>();
        for (Doc d : ofKind(docs, "Deployment")) {
            boolean wants = Pipeline.SERVICES.stream().anyMatch(p -> p.gpu() && p.name().equals(d.name()));
            boolean limited = containers(d).stream()
                    .anyMatch(c -> c.path("resources").path("limits").path("nvidia.com/gpu").asInt(0) >= 1);
            boolean requested = containers(d).stream().anyMatch(c -> c.path("resources").path("requests").has("nvidia.com/gpu"));
            if (!wants) {
                if (limited || requested) {
                    problems.add(d + ": asks for a GPU it does not use");
                }
                continue;
            }
            if (!limited) {
                problems.add(d + ": no resources.limits nvidia.com/gpu >= 1");
            }
            boolean tolerates = elements(podSpec(d).path("tolerations")).stream()
                    .anyMatch(t -> "nvidia.com/gpu".equals(t.path("key").asText())
                            && ("Exists".equals(t.path("operator").asText()) || "Equal".equals(t.path("operator").asText("Equal"))));
            if (!tolerates) {
                problems.add(d + ": does not tolerate the nvidia.com/gpu taint");
            }
            if (!podSpec(d).has("nodeSelector") && !podSpec(d).path("affinity").has("nodeAffinity")) {
                problems.add(d + ": no nodeSelector or node affinity for GPU nodes");
            }
        }
        return problems;
    }

    /**
     * Each service of the pipeline has a Deployment and a Service; its container has the environment it
     * is configured by and its own consumer group; the Hugging Face token goes to the fetcher only.
     */
    static List<String> pipelineServices(List<Doc> docs) {
        List<String> problems = new ArrayList<>();
        for (Pipeline.Service p : Pipeline.SERVICES) {
            Optional<Doc> d = find(docs, "Deployment", p.name());
            if (d.isEmpty()) {
                problems.add("no Deployment " + p.name());
                continue;
            }
            if (find(docs, "Service", p.name()).isEmpty()) {
                problems.add("no Service " + p.name());
            }
            List<JsonNode> cs = elements(podSpec(d.get()).path("containers"));
            if (cs.size() != 1) {
                problems.add(d.get() + ": " + cs.size() + " containers, not 1");
                continue;
            }
            JsonNode c = cs.get(0);
            Set<String> names = envNames(c);
            for (String k : REQUIRED_ENV) {
                if (!names.contains(k)) {
                    problems.add(d.get() + ": env " + k + " is not set");
                }
            }
            if (names.contains("HF_TOKEN") != p.name().equals("fetcher")) {
                problems.add(d.get() + ": HF_TOKEN is for the fetcher only");
            }
            for (String k : names) {
                if (k.startsWith("QUANTFLOW_") && !Pipeline.SETTINGS.contains(k)) {
                    problems.add(d.get() + ": env " + k + " is no setting the services read (" + new TreeSet<>(Pipeline.SETTINGS) + ")");
                }
            }
            Optional<String> group = envValue(docs, c, "KAFKA_GROUP_ID");
            if (group.isPresent() && !group.get().equals(p.group())) {
                problems.add(d.get() + ": KAFKA_GROUP_ID " + group.get() + ", not " + p.group());
            }
            if (!c.path("image").asText().contains(":") || c.path("image").asText().endsWith(":latest")) {
                problems.add(d.get() + ": image " + c.path("image").asText() + " has no pinned tag");
            }
        }
        return problems;
    }

    /** The Kafka topic name of a KafkaTopic. */
    static String topicName(Doc t) {
        return t.node().path("spec").path("topicName").asText(t.name());
    }

    static Optional<Doc> kafkaTopic(List<Doc> docs, String topic) {
        return ofKind(docs, "KafkaTopic").stream().filter(t -> topicName(t).equals(topic)).findFirst();
    }

    /**
     * Every topic of the pipeline has one KafkaTopic for the Strimzi cluster: dead-letter topics one
     * partition, the scaled work topics enough for the GPU pods, min.insync.replicas below replicas.
     */
    static List<String> topics(List<Doc> docs) {
        List<String> problems = new ArrayList<>();
        Map<String, Integer> count = new LinkedHashMap<>();
        for (Doc t : ofKind(docs, "KafkaTopic")) {
            count.merge(topicName(t), 1, Integer::sum);
            JsonNode spec = t.node().path("spec");
            if (t.node().path("metadata").path("labels").path("strimzi.io/cluster").asText("").isEmpty()) {
                problems.add(t + ": no strimzi.io/cluster label: no Topic Operator will see it");
            }
            int partitions = spec.path("partitions").asInt(0);
            int replicas = spec.path("replicas").asInt(0);
            if (partitions < 1 || replicas < 1) {
                problems.add(t + ": partitions and replicas must be at least 1");
            }
            JsonNode isr = spec.path("config").path("min.insync.replicas");
            if (!isr.isMissingNode() && isr.asInt() >= replicas) {
                problems.add(t + ": min.insync.replicas " + isr.asInt() + " leaves no replica to lose of " + replicas);
            }
        }
        count.forEach((name, n) -> {
            if (n > 1) {
                problems.add("topic " + name + " has " + n + " KafkaTopics");
            }
        });
        for (String topic : Pipeline.topics()) {
            Optional<Doc> t = kafkaTopic(docs, topic);
            if (t.isEmpty()) {
                problems.add("topic " + topic + " has no KafkaTopic");
                continue;
            }
            int partitions = t.get().node().path("spec").path("partitions").asInt(0);
            if (Pipeline.DEAD_LETTER_TOPICS.contains(topic) && partitions != 1) {
                problems.add(t.get() + ": a dead-letter topic with " + partitions + " partitions, not 1");
            }
            if (Pipeline.SCALED.containsValue(topic) && partitions < Pipeline.GPU_PODS) {
                problems.add(t.get() + ": " + partitions + " partitions, fewer than the " + Pipeline.GPU_PODS + " pods that share a model's shards");
            }
        }
        return problems;
    }

    /**
     * Each ScaledObject scales a Deployment here (which leaves its replicas to KEDA) on the lag of that
     * service's own consumer group on a topic it consumes, at the ConfigMap's Kafka; its maximum fits the
     * topic's partitions. The scaled services (merger, quantizer) have one each.
     */
    static List<String> scaledObjects(List<Doc> docs) {
        List<String> problems = new ArrayList<>();
        Set<String> scaled = new HashSet<>();
        String bootstrap = find(docs, "ConfigMap", "quantflow-config")
                .map(cm -> cm.node().path("data").path("KAFKA_BOOTSTRAP_SERVERS").asText(null)).orElse(null);
        for (Doc so : ofKind(docs, "ScaledObject")) {
            JsonNode spec = so.node().path("spec");
            JsonNode ref = spec.path("scaleTargetRef");
            String kind = ref.path("kind").asText("Deployment");
            Optional<Doc> target = find(docs, "Deployment", ref.path("name").asText());
            if (!kind.equals("Deployment") || target.isEmpty()) {
                problems.add(so + ": scaleTargetRef " + kind + " " + ref.path("name").asText() + " is no Deployment here");
                continue;
            }
            scaled.add(target.get().name());
            if (target.get().node().path("spec").has("replicas")) {
                problems.add(target.get() + ": sets replicas, which every apply would reset under KEDA");
            }
            int min = spec.path("minReplicaCount").asInt(0);
            int max = spec.path("maxReplicaCount").asInt(100);
            if (min > max) {
                problems.add(so + ": minReplicaCount " + min + " > maxReplicaCount " + max);
            }
            List<JsonNode> triggers = elements(spec.path("triggers"));
            if (triggers.isEmpty()) {
                problems.add(so + ": no triggers");
            }
            Pipeline.Service service = Pipeline.SERVICES.stream().filter(p -> p.name().equals(target.get().name())).findFirst().orElse(null);
            for (JsonNode t : triggers) {
                if (!"kafka".equals(t.path("type").asText())) {
                    problems.add(so + ": trigger " + t.path("type").asText() + " is not kafka");
                    continue;
                }
                JsonNode md = t.path("metadata");
                String topic = md.path("topic").asText("");
                String group = md.path("consumerGroup").asText("");
                Optional<Doc> kt = kafkaTopic(docs, topic);
                if (kt.isEmpty()) {
                    problems.add(so + ": topic " + topic + " has no KafkaTopic");
                } else if (max > kt.get().node().path("spec").path("partitions").asInt(0)) {
                    problems.add(so + ": maxReplicaCount " + max + " exceeds " + topic + "'s "
                            + kt.get().node().path("spec").path("partitions").asInt(0) + " partitions (the rest would idle)");
                }
                if (service != null && !service.consumes().contains(topic)) {
                    problems.add(so + ": " + service.name() + " does not consume " + topic);
                }
                Optional<String> targetGroup = elements(podSpec(target.get()).path("containers")).stream()
                        .map(c -> envValue(docs, c, "KAFKA_GROUP_ID")).flatMap(Optional::stream).findFirst();
                if (service != null && !group.equals(service.group())) {
                    problems.add(so + ": consumerGroup " + group + ", but " + service.name() + "'s group is " + service.group());
                } else if (targetGroup.isPresent() && !group.equals(targetGroup.get())) {
                    problems.add(so + ": consumerGroup " + group + ", but the Deployment's KAFKA_GROUP_ID is " + targetGroup.get());
                }
                if (!Objects.equals(md.path("bootstrapServers").asText(null), bootstrap)) {
                    problems.add(so + ": bootstrapServers " + md.path("bootstrapServers").asText(null)
                            + " is not the ConfigMap's KAFKA_BOOTSTRAP_SERVERS " + bootstrap);
                }
                String host = md.path("bootstrapServers").asText("").split(",")[0].replaceAll(":[0-9]+$", "");
                if (!host.contains(".")) {
                    problems.add(so + ": bootstrapServers host " + host + " is not namespace-qualified, and KEDA's operator"
                            + " resolves it from its own namespace");
                }
                if (!md.has("lagThreshold")) {
                    problems.add(so + ": no lagThreshold");
                }
            }
        }
        for (String name : Pipeline.SCALED.keySet()) {
            if (!scaled.contains(name)) {
                problems.add("no ScaledObject for " + name);
            }
        }
        return problems;
    }
}
