package io.quantflow.deploy;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The services' own Kafka settings agree with what the deployment files were written for
 * ({@link Pipeline}): each service's application.properties names it (its default consumer group)
 * and the topic it consumes, and the settings they share (services/edge,
 * META-INF/microprofile-config.properties) take the group from KAFKA_GROUP_ID, which k8s/ and
 * docker-compose.yml set, and send what is no event to the topic's dead-letter topic.
 */
class ServiceConfigTest {
    private static final Repo REPO = Repo.locate();
    static final String SHARED = "services/edge/src/main/resources/META-INF/microprofile-config.properties";
    private static final String WORK = "mp.messaging.incoming.work.";

    static Properties properties(String relative) {
        Properties p = new Properties();
        try {
            p.load(new StringReader(REPO.read(relative)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    static Map<String, Properties> services() {
        Map<String, Properties> m = new LinkedHashMap<>();
        for (Pipeline.Service s : Pipeline.SERVICES) {
            m.put(s.name(), properties("services/" + s.name() + "/src/main/resources/application.properties"));
        }
        return m;
    }

    static List<String> check(Map<String, Properties> services, Properties shared) {
        List<String> problems = new ArrayList<>();
        if (!"${KAFKA_GROUP_ID:${quarkus.application.name}}".equals(shared.getProperty(WORK + "group.id"))) {
            problems.add(SHARED + ": group.id " + shared.getProperty(WORK + "group.id")
                    + " does not read KAFKA_GROUP_ID, else the service's name");
        }
        if (!"${mp.messaging.incoming.work.topic}-dlq".equals(shared.getProperty(WORK + "dead-letter-queue.topic"))) {
            problems.add(SHARED + ": the dead-letter topic " + shared.getProperty(WORK + "dead-letter-queue.topic") + " is not <topic>-dlq");
        }
        for (Pipeline.Service s : Pipeline.SERVICES) {
            Properties own = services.get(s.name());
            if (own == null) {
                problems.add(s.name() + ": no application.properties");
                continue;
            }
            String name = own.getProperty("quarkus.application.name");
            if (!s.group().equals(name)) {
                problems.add(s.name() + ": quarkus.application.name (the default consumer group) " + name + ", not " + s.group());
            }
            String topic = own.getProperty(WORK + "topic");
            if (!s.consumes().contains(topic)) {
                problems.add(s.name() + ": consumes " + topic + ", not " + s.consumes());
            } else if (!Pipeline.DEAD_LETTER_TOPICS.contains(topic + "-dlq")) {
                problems.add(s.name() + ": " + topic + "-dlq is no dead-letter topic of the deployment");
            }
            for (String k : own.stringPropertyNames()) {
                if (shared.containsKey(k)) {
                    problems.add(s.name() + ": sets " + k + ", which the services share in " + SHARED);
                }
            }
        }
        return problems;
    }

    @Test
    void theServicesSettingsAreThoseTheDeploymentWasWrittenFor() {
        assertEquals(List.of(), check(services(), properties(SHARED)));
    }

    /** A broken copy: what the problem must say, and the change. */
    record Broken(String says, Consumer<Map<String, Properties>> change) {
    }

    @TestFactory
    Stream<DynamicTest> brokenCopiesAreCaught() {
        List<Broken> broken = List.of(
                new Broken("does not read KAFKA_GROUP_ID", m -> m.get("shared").setProperty(WORK + "group.id", "quantflow-worker")),
                new Broken("is not <topic>-dlq", m -> m.get("shared").setProperty(WORK + "dead-letter-queue.topic", "quantflow-dlq")),
                new Broken("merger: quarkus.application.name (the default consumer group) quantflow-merge, not quantflow-merger",
                        m -> m.get("merger").setProperty("quarkus.application.name", "quantflow-merge")),
                new Broken("quantizer: consumes quantflow-merge", m -> m.get("quantizer").setProperty(WORK + "topic", "quantflow-merge")),
                new Broken("publisher: sets mp.messaging.incoming.work.session.timeout.ms, which the services share",
                        m -> m.get("publisher").setProperty(WORK + "session.timeout.ms", "45000")),
                new Broken("fetcher: no application.properties", m -> m.remove("fetcher")));
        return broken.stream().map(b -> DynamicTest.dynamicTest(b.says(), () -> {
            Map<String, Properties> m = services();
            m.put("shared", properties(SHARED));
            b.change().accept(m);
            Properties shared = m.remove("shared");
            List<String> problems = check(m, shared);
            assertTrue(problems.stream().anyMatch(p -> p.contains(b.says())), "not caught: " + b.says() + ": " + problems);
        }));
    }
}
