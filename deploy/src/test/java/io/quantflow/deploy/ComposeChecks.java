package io.quantflow.deploy;

import com.fasterxml.jackson.databind.JsonNode;

import java.net.URI;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.quantflow.deploy.Nodes.elements;
import static io.quantflow.deploy.Nodes.fields;

/**
 * Checks of docker-compose.yml that its JSON Schema cannot make: references between services, the
 * files a build needs, the topics and buckets the pipeline needs, the GPU. Each returns what is wrong
 * (empty when nothing is); the tests run each on the real file and on broken copies.
 */
final class ComposeChecks {
    private ComposeChecks() {
    }

    /** The only variables the file may take from the host's environment (.env or the shell). */
    static final Set<String> HOST_VARIABLES = Set.of("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "HF_TOKEN");
    static final List<String> REQUIRED_ENV = List.of("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_GROUP_ID", "AWS_ENDPOINT_URL_S3",
            "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "QUANTFLOW_WORK_BUCKET", "QUANTFLOW_WORK_DIR");

    /** Every check, by name. */
    static Map<String, List<String>> all(JsonNode compose, Predicate<String> isFile, Predicate<String> isDirectory) {
        Map<String, List<String>> m = new LinkedHashMap<>();
        m.put("dependsOn", dependsOn(compose));
        m.put("builds", builds(compose, isFile, isDirectory));
        m.put("gpu", gpu(compose));
        m.put("topics", topics(compose));
        m.put("buckets", buckets(compose));
        m.put("serviceEnvironment", serviceEnvironment(compose));
        m.put("healthchecks", healthchecks(compose));
        m.put("interpolation", interpolation(compose));
        m.put("volumes", volumes(compose));
        m.put("ports", ports(compose));
        return m;
    }

    static JsonNode services(JsonNode compose) {
        return compose.path("services");
    }

    /** A service's environment as a map, whether written as a map or as a list of NAME=VALUE. */
    static Map<String, String> environment(JsonNode service) {
        Map<String, String> env = new LinkedHashMap<>();
        JsonNode e = service.path("environment");
        if (e.isArray()) {
            for (JsonNode item : e) {
                String s = item.asText();
                int eq = s.indexOf('=');
                env.put(eq < 0 ? s : s.substring(0, eq), eq < 0 ? null : s.substring(eq + 1));
            }
        } else {
            for (Map.Entry<String, JsonNode> f : fields(e)) {
                env.put(f.getKey(), f.getValue().isNull() ? null : f.getValue().asText());
            }
        }
        return env;
    }

    /** depends_on as service name to condition (service_started when a list). */
    static Map<String, String> dependsOnOf(JsonNode service) {
        Map<String, String> m = new LinkedHashMap<>();
        JsonNode d = service.path("depends_on");
        if (d.isArray()) {
            d.forEach(x -> m.put(x.asText(), "service_started"));
        } else {
            for (Map.Entry<String, JsonNode> f : fields(d)) {
                m.put(f.getKey(), f.getValue().path("condition").asText("service_started"));
            }
        }
        return m;
    }

    /**
     * Every depends_on names a service; service_healthy only on one with a health check;
     * service_completed_successfully only on a one-shot (restart "no").
     */
    static List<String> dependsOn(JsonNode compose) {
        List<String> problems = new ArrayList<>();
        JsonNode services = services(compose);
        for (Map.Entry<String, JsonNode> s : fields(services)) {
            for (Map.Entry<String, String> d : dependsOnOf(s.getValue()).entrySet()) {
                JsonNode target = services.get(d.getKey());
                String where = s.getKey() + " depends_on " + d.getKey();
                if (target == null) {
                    problems.add(where + ": no such service");
                    continue;
                }
                if (d.getKey().equals(s.getKey())) {
                    problems.add(where + ": itself");
                }
                switch (d.getValue()) {
                    case "service_healthy" -> {
                        if (!target.has("healthcheck") || target.path("healthcheck").path("disable").asBoolean(false)) {
                            problems.add(where + ": service_healthy, but " + d.getKey() + " has no health check");
                        }
                    }
                    case "service_completed_successfully" -> {
                        String restart = target.path("restart").asText("no");
                        if (!restart.equals("no")) {
                            problems.add(where + ": service_completed_successfully, but " + d.getKey()
                                    + " restarts (" + restart + ") and so never completes");
                        }
                    }
                    case "service_started" -> {
                    }
                    default -> problems.add(where + ": unknown condition " + d.getValue());
                }
            }
        }
        return problems;
    }

    /** Every build's context is a folder of the repository, and its Dockerfile a file there. */
    static List<String> builds(JsonNode compose, Predicate<String> isFile, Predicate<String> isDirectory) {
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, JsonNode> s : fields(services(compose))) {
            JsonNode b = s.getValue().get("build");
            if (b == null) {
                continue;
            }
            String context = b.isTextual() ? b.asText() : b.path("context").asText(".");
            String dockerfile = b.isTextual() ? "Dockerfile" : b.path("dockerfile").asText("Dockerfile");
            if (!isDirectory.test(context)) {
                problems.add(s.getKey() + ": build context " + context + " is not a folder");
            }
            if (!isFile.test(context + "/" + dockerfile)) {
                problems.add(s.getKey() + ": no Dockerfile at " + context + "/" + dockerfile);
            }
            if (!s.getValue().has("image")) {
                problems.add(s.getKey() + ": built without an image name (the tag would be derived from the folder)");
            }
        }
        for (Pipeline.Service p : Pipeline.SERVICES) {
            JsonNode s = services(compose).get(p.name());
            if (s != null && !s.has("build")) {
                problems.add(p.name() + ": not built from its Dockerfile");
            }
        }
        return problems;
    }

    /** The quantizer reserves an NVIDIA GPU; no other service does. */
    static List<String> gpu(JsonNode compose) {
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, JsonNode> s : fields(services(compose))) {
            boolean wants = Pipeline.SERVICES.stream().anyMatch(p -> p.gpu() && p.name().equals(s.getKey()));
            boolean reserves = false;
            for (JsonNode d : elements(s.getValue().path("deploy").path("resources").path("reservations").path("devices"))) {
                boolean gpuCap = elements(d.path("capabilities")).stream().anyMatch(c -> c.asText().equals("gpu"));
                JsonNode count = d.path("count");
                boolean counted = count.isMissingNode() || count.asText().equals("all") || count.asInt(0) >= 1
                        || elements(d.path("device_ids")).size() >= 1;
                if (gpuCap && "nvidia".equals(d.path("driver").asText()) && counted) {
                    reserves = true;
                } else if (gpuCap) {
                    problems.add(s.getKey() + ": a GPU reservation without driver nvidia or with count < 1: " + d);
                }
            }
            if (wants && !reserves) {
                problems.add(s.getKey() + ": no NVIDIA GPU reservation (deploy.resources.reservations.devices)");
            }
            if (!wants && reserves) {
                problems.add(s.getKey() + ": reserves a GPU it does not use");
            }
        }
        return problems;
    }

    private static final Pattern TOPIC_SPEC = Pattern.compile("([A-Za-z0-9._-]+):([0-9]+)");

    /** The topic-creating one-shot: the service whose environment has TOPICS, as topic to partitions. */
    static Map<String, Integer> initTopics(JsonNode compose) {
        Map<String, Integer> topics = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> s : fields(services(compose))) {
            String spec = environment(s.getValue()).get("TOPICS");
            if (spec == null) {
                continue;
            }
            for (String word : spec.trim().split("\\s+")) {
                Matcher m = TOPIC_SPEC.matcher(word);
                topics.put(m.matches() ? m.group(1) : word, m.matches() ? Integer.parseInt(m.group(2)) : -1);
            }
        }
        return topics;
    }

    /**
     * Kafka makes no topic by itself; the init one-shot creates every topic of the pipeline from its
     * TOPICS list (dead-letter topics with one partition) and waits for a healthy broker first.
     */
    static List<String> topics(JsonNode compose) {
        List<String> problems = new ArrayList<>();
        JsonNode services = services(compose);
        String initName = null;
        for (Map.Entry<String, JsonNode> s : fields(services)) {
            if (environment(s.getValue()).containsKey("TOPICS")) {
                initName = s.getKey();
            }
        }
        if (initName == null) {
            return List.of("no topic-creating service (one whose environment has TOPICS)");
        }
        JsonNode init = services.get(initName);
        String script = elements(init.path("command")).stream().map(JsonNode::asText).reduce("", String::concat)
                + init.path("command").asText("");
        if (!script.contains("kafka-topics.sh") || !script.contains("--create") || !script.contains("$$TOPICS")) {
            problems.add(initName + ": its command does not run kafka-topics.sh --create over $$TOPICS");
        }
        String bootstrap = environment(init).getOrDefault("BOOTSTRAP", "");
        String broker = bootstrap.contains(":") ? bootstrap.substring(0, bootstrap.indexOf(':')) : bootstrap;
        if (!services.has(broker)) {
            problems.add(initName + ": BOOTSTRAP " + bootstrap + " is not a compose service");
        } else {
            if (!"service_healthy".equals(dependsOnOf(init).get(broker))) {
                problems.add(initName + ": does not wait for a healthy " + broker);
            }
            String auto = environment(services.get(broker)).getOrDefault("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "true");
            if (!auto.equals("false")) {
                problems.add(broker + ": KAFKA_AUTO_CREATE_TOPICS_ENABLE is not \"false\": a missing topic would be made silently");
            }
        }
        Map<String, Integer> topics = initTopics(compose);
        for (Map.Entry<String, Integer> t : topics.entrySet()) {
            if (t.getValue() < 1) {
                problems.add(initName + ": topic spec " + t.getKey() + " is not NAME:PARTITIONS");
            }
        }
        for (String t : Pipeline.topics()) {
            Integer n = topics.get(t);
            if (n == null) {
                problems.add(initName + ": topic " + t + " is not created");
            } else if (Pipeline.DEAD_LETTER_TOPICS.contains(t) && n != 1) {
                problems.add(initName + ": dead-letter topic " + t + " has " + n + " partitions, not 1");
            }
        }
        return problems;
    }

    private static final Pattern BUCKET = Pattern.compile("[A-Za-z0-9_]+/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])");

    /** Buckets the mc one-shot creates. */
    static Set<String> initBuckets(JsonNode compose) {
        Set<String> buckets = new LinkedHashSet<>();
        for (Map.Entry<String, JsonNode> s : fields(services(compose))) {
            if (!s.getValue().path("image").asText().startsWith("minio/mc:")) {
                continue;
            }
            List<String> args = new ArrayList<>();
            elements(s.getValue().path("command")).forEach(a -> args.add(a.asText()));
            if (!args.isEmpty() && args.get(0).equals("mb")) {
                for (String a : args) {
                    Matcher m = BUCKET.matcher(a);
                    if (m.matches()) {
                        buckets.add(m.group(1));
                    }
                }
            }
        }
        return buckets;
    }

    /** The mc one-shot makes the work bucket and the models bucket, and the services use a bucket it makes. */
    static List<String> buckets(JsonNode compose) {
        List<String> problems = new ArrayList<>();
        Set<String> buckets = initBuckets(compose);
        for (String b : List.of(Pipeline.WORK_BUCKET, Pipeline.MODELS_BUCKET)) {
            if (!buckets.contains(b)) {
                problems.add("bucket " + b + " is not created (minio/mc mb)");
            }
        }
        for (Pipeline.Service p : Pipeline.SERVICES) {
            JsonNode s = services(compose).get(p.name());
            String bucket = s == null ? null : environment(s).get("QUANTFLOW_WORK_BUCKET");
            if (bucket != null && !buckets.contains(bucket)) {
                problems.add(p.name() + ": QUANTFLOW_WORK_BUCKET " + bucket + " is not created");
            }
        }
        return problems;
    }

    /**
     * Each service of the pipeline is there with the environment it is configured by: Kafka and S3 at
     * hosts that are compose services, its own consumer group, the work folder on a mounted volume;
     * the Hugging Face token for the fetcher only.
     */
    static List<String> serviceEnvironment(JsonNode compose) {
        List<String> problems = new ArrayList<>();
        JsonNode services = services(compose);
        for (Pipeline.Service p : Pipeline.SERVICES) {
            JsonNode s = services.get(p.name());
            if (s == null) {
                problems.add(p.name() + ": not in docker-compose.yml");
                continue;
            }
            Map<String, String> env = environment(s);
            for (String k : REQUIRED_ENV) {
                if (env.get(k) == null || env.get(k).isBlank()) {
                    problems.add(p.name() + ": " + k + " is not set");
                }
            }
            if (env.containsKey("HF_TOKEN") != p.name().equals("fetcher")) {
                problems.add(p.name() + ": HF_TOKEN is for the fetcher only");
            }
            for (String k : env.keySet()) {
                if (k.startsWith("QUANTFLOW_") && !Pipeline.SETTINGS.contains(k)) {
                    problems.add(p.name() + ": " + k + " is no setting the services read (" + new TreeSet<>(Pipeline.SETTINGS) + ")");
                }
            }
            if (env.get("KAFKA_GROUP_ID") != null && !env.get("KAFKA_GROUP_ID").equals(p.group())) {
                problems.add(p.name() + ": KAFKA_GROUP_ID " + env.get("KAFKA_GROUP_ID") + ", not " + p.group());
            }
            for (String server : env.getOrDefault("KAFKA_BOOTSTRAP_SERVERS", "").split(",")) {
                String host = server.contains(":") ? server.substring(0, server.lastIndexOf(':')) : server;
                if (!server.isBlank() && !services.has(host)) {
                    problems.add(p.name() + ": KAFKA_BOOTSTRAP_SERVERS host " + host + " is not a compose service");
                } else if (!server.isBlank() && !dependsOnOf(s).containsKey(host)) {
                    problems.add(p.name() + ": does not depend on " + host);
                }
            }
            String endpoint = env.get("AWS_ENDPOINT_URL_S3");
            if (endpoint != null) {
                String host = URI.create(endpoint).getHost();
                if (host == null || !services.has(host)) {
                    problems.add(p.name() + ": AWS_ENDPOINT_URL_S3 host " + host + " is not a compose service");
                }
            }
            String work = env.get("QUANTFLOW_WORK_DIR");
            if (work != null && !mountTargets(s).contains(work)) {
                problems.add(p.name() + ": QUANTFLOW_WORK_DIR " + work + " is not a mounted volume");
            }
        }
        return problems;
    }

    static Set<String> mountTargets(JsonNode service) {
        Set<String> targets = new LinkedHashSet<>();
        for (JsonNode v : elements(service.path("volumes"))) {
            if (v.isTextual()) {
                String[] parts = v.asText().split(":");
                targets.add(parts.length >= 2 ? parts[1] : parts[0]);
            } else {
                targets.add(v.path("target").asText());
            }
        }
        return targets;
    }

    /** Kafka, MinIO and the pipeline's services have health checks; the services' ask Quarkus. */
    static List<String> healthchecks(JsonNode compose) {
        List<String> problems = new ArrayList<>();
        JsonNode services = services(compose);
        List<String> needed = new ArrayList<>();
        for (Map.Entry<String, JsonNode> s : fields(services)) {
            String image = s.getValue().path("image").asText();
            if (image.startsWith("apache/kafka:") && !environment(s.getValue()).containsKey("TOPICS")
                    || image.startsWith("minio/minio:")) {
                needed.add(s.getKey());
            }
        }
        Pipeline.SERVICES.forEach(p -> needed.add(p.name()));
        for (String name : needed) {
            JsonNode h = services.path(name).path("healthcheck");
            if (!h.has("test") || h.path("disable").asBoolean(false)) {
                problems.add(name + ": no health check");
            } else if (Pipeline.SERVICES.stream().anyMatch(p -> p.name().equals(name)) && !h.get("test").toString().contains("/q/health/")) {
                problems.add(name + ": health check does not ask /q/health/");
            }
        }
        return problems;
    }

    private static final Pattern DOLLAR = Pattern.compile(
            "\\$\\$|\\$\\{([A-Za-z_][A-Za-z0-9_]*)(?:(?::?[-?+])[^}]*)?}|\\$([A-Za-z_][A-Za-z0-9_]*)|\\$");

    /**
     * Compose substitutes ${NAME} and $NAME everywhere from the host's environment: only the
     * documented variables may be taken from there; a shell's own variable must be written $$NAME,
     * and anything else after a $ (like ${x%%:*}) is an error of compose's.
     */
    static List<String> interpolation(JsonNode compose) {
        List<String> problems = new ArrayList<>();
        Nodes.strings(compose, "", (path, s) -> {
            Matcher m = DOLLAR.matcher(s);
            while (m.find()) {
                String tok = m.group();
                if (tok.equals("$$")) {
                    continue;
                }
                String name = m.group(1) != null ? m.group(1) : m.group(2);
                if (name == null) {
                    int close = s.indexOf('}', m.start());
                    String bad = s.substring(m.start(), close > m.start() && s.charAt(m.start() + 1) == '{' ? close + 1 : m.start() + 1);
                    problems.add(path + ": " + bad + " is no valid interpolation (write $$ for a literal $)");
                } else if (!HOST_VARIABLES.contains(name)) {
                    problems.add(path + ": " + tok + " would be taken from the host's environment"
                            + " (write $$ for the shell's own variable)");
                }
            }
        });
        return problems;
    }

    /** Named volumes that services mount are declared at the top level. */
    static List<String> volumes(JsonNode compose) {
        List<String> problems = new ArrayList<>();
        JsonNode declared = compose.path("volumes");
        for (Map.Entry<String, JsonNode> s : fields(services(compose))) {
            for (JsonNode v : elements(s.getValue().path("volumes"))) {
                String source = v.isTextual() ? v.asText().split(":")[0] : v.path("source").asText("");
                boolean named = !source.isEmpty() && !source.startsWith(".") && !source.startsWith("/") && !source.startsWith("~")
                        && (v.isTextual() ? v.asText().contains(":") : "volume".equals(v.path("type").asText()));
                if (named && !declared.has(source)) {
                    problems.add(s.getKey() + ": volume " + source + " is not declared under volumes:");
                }
            }
        }
        return problems;
    }

    /** No host port is published twice. */
    static List<String> ports(JsonNode compose) {
        List<String> problems = new ArrayList<>();
        Map<String, String> used = new HashMap<>();
        for (Map.Entry<String, JsonNode> s : fields(services(compose))) {
            for (JsonNode p : elements(s.getValue().path("ports"))) {
                String spec = p.isTextual() ? p.asText() : p.path("host_ip").asText("") + ":" + p.path("published").asText();
                String[] parts = spec.split(":");
                if (parts.length < 2) {
                    continue;
                }
                String host = parts[parts.length - 2];
                String prev = used.put(host, s.getKey());
                if (prev != null) {
                    problems.add(s.getKey() + ": host port " + host + " is also published by " + prev);
                }
            }
        }
        return problems;
    }
}
