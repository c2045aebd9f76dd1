package io.quantflow.deploy;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the deployment files must provide for: the four services, the topics each consumes and
 * produces, their consumer groups, the dead-letter topics and the work bucket. The services' own code
 * is the authority on these; this is the list the deployment was written for, and the checks hold the
 * files to it.
 */
final class Pipeline {
    private Pipeline() {
    }

    /**
     * One service: its consumer group (KAFKA_GROUP_ID, which defaults to the same name: the service's
     * quarkus.application.name), what it consumes and what it produces.
     */
    record Service(String name, String group, List<String> consumes, List<String> produces, boolean gpu) {
    }

    static final String WORK_BUCKET = "quantflow-work";
    static final String MODELS_BUCKET = "models";
    /** The work topics that KEDA scales on: they need enough partitions for the GPU pods. */
    static final Map<String, String> SCALED = Map.of("merger", "quantflow-merge", "quantizer", "quantflow-quantize");
    /** The maximum that must fit: 30 GPU pods on one 70B model's shards. */
    static final int GPU_PODS = 30;

    static final List<Service> SERVICES = List.of(
            new Service("fetcher", "quantflow-fetcher", List.of("conversion-requested"),
                    List.of("quantflow-merge", "quantflow-quantize", "quantflow-publish", "conversion-progress", "conversion-failed"), false),
            new Service("merger", "quantflow-merger", List.of("quantflow-merge"),
                    List.of("quantflow-publish", "conversion-progress", "conversion-failed"), false),
            new Service("quantizer", "quantflow-quantizer", List.of("quantflow-quantize"),
                    List.of("quantflow-publish", "conversion-progress", "conversion-failed"), true),
            new Service("publisher", "quantflow-publisher", List.of("quantflow-publish"),
                    List.of("conversion-completed", "conversion-failed", "conversion-progress"), false));

    /**
     * The QUANTFLOW_* variables the services read (services/edge's EdgeConfig; docs/deploy.md): a deployment
     * that sets another one (QUANTFLOW_THREADS, say) sets nothing.
     */
    static final Set<String> SETTINGS = Set.of("QUANTFLOW_WORK_BUCKET", "QUANTFLOW_WORK_DIR", "QUANTFLOW_WORK_THREADS");

    static final List<String> DEAD_LETTER_TOPICS = List.of("conversion-requested-dlq", "quantflow-merge-dlq",
            "quantflow-quantize-dlq", "quantflow-publish-dlq");

    static Service service(String name) {
        return SERVICES.stream().filter(s -> s.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no service " + name));
    }

    /** Every topic: those the services consume or produce, and the dead-letter topics. */
    static Set<String> topics() {
        Set<String> all = new LinkedHashSet<>();
        for (Service s : SERVICES) {
            all.addAll(s.consumes());
            all.addAll(s.produces());
        }
        all.addAll(DEAD_LETTER_TOPICS);
        return all;
    }

    /** Service name to consumer group. */
    static Map<String, String> groups() {
        Map<String, String> m = new LinkedHashMap<>();
        SERVICES.forEach(s -> m.put(s.name(), s.group()));
        return m;
    }
}
