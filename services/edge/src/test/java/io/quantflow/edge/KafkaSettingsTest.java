package io.quantflow.edge;

import io.quantflow.core.pipeline.events.Stage;
import io.quantflow.core.pipeline.events.Topics;
import io.smallrye.config.EnvConfigSource;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;
import org.eclipse.microprofile.config.spi.ConfigSource;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The services' Kafka settings as Quarkus resolves them: this module's
 * {@code META-INF/microprofile-config.properties} (ordinal 100) under each service's own
 * {@code application.properties} (ordinal 250), which names the service and its topic and nothing
 * else. Each service consumes its {@link Stage}'s topic in the group KAFKA_GROUP_ID, else its own
 * name, and sends what is no event to {@code <topic>-dlq}.
 */
class KafkaSettingsTest {
    private static final String SHARED = "META-INF/microprofile-config.properties";
    private static final String WORK = "mp.messaging.incoming.work.";

    private static Path serviceProperties(Stage stage) {
        // the tests run in services/edge
        Path p = Path.of("..", stage.service(), "src/main/resources/application.properties");
        assertTrue(Files.isRegularFile(p), p.toAbsolutePath().toString());
        return p;
    }

    private static Map<String, String> read(Path p) throws IOException {
        Properties props = new Properties();
        try (Reader r = Files.newBufferedReader(p, StandardCharsets.UTF_8)) {
            props.load(r);
        }
        Map<String, String> m = new TreeMap<>();
        props.stringPropertyNames().forEach(k -> m.put(k, props.getProperty(k)));
        return m;
    }

    private static Map<String, String> shared() throws IOException {
        Properties props = new Properties();
        try (InputStream in = KafkaSettingsTest.class.getClassLoader().getResourceAsStream(SHARED)) {
            assertNotNull(in, SHARED);
            props.load(in);
        }
        Map<String, String> m = new TreeMap<>();
        props.stringPropertyNames().forEach(k -> m.put(k, props.getProperty(k)));
        return m;
    }

    private static SmallRyeConfig config(Stage stage, Map<String, String> environment) throws IOException {
        URL shared = KafkaSettingsTest.class.getClassLoader().getResource(SHARED);
        List<ConfigSource> sources = new ArrayList<>();
        sources.add(new PropertiesConfigSource(shared, 100));
        sources.add(new PropertiesConfigSource(read(serviceProperties(stage)), "application.properties", 250));
        sources.add(new EnvConfigSource(environment, 300));
        return new SmallRyeConfigBuilder().addDefaultInterceptors().withSources(sources).build();
    }

    @Test
    void eachServiceConsumesItsStagesTopicInAGroupOfItsName() throws IOException {
        for (Stage stage : Stage.values()) {
            SmallRyeConfig c = config(stage, Map.of());
            String name = "quantflow-" + stage.service();
            assertEquals(name, c.getRawValue("quarkus.application.name"), stage.service());
            assertEquals(stage.topic(), c.getRawValue(WORK + "topic"), stage.service());
            assertEquals(name, c.getRawValue(WORK + "group.id"), stage.service());
            assertEquals(Topics.deadLetter(stage.topic()), c.getRawValue(WORK + "dead-letter-queue.topic"), stage.service());
            assertEquals("smallrye-kafka", c.getRawValue(WORK + "connector"), stage.service());
            assertEquals("15000", c.getRawValue(WORK + "session.timeout.ms"), stage.service());
            assertEquals("1", c.getRawValue(WORK + "max.poll.records"), stage.service());
        }
    }

    @Test
    void kafkaGroupIdSetsTheConsumerGroup() throws IOException {
        for (Stage stage : Stage.values()) {
            SmallRyeConfig c = config(stage, Map.of("KAFKA_GROUP_ID", "team-a." + stage.service()));
            assertEquals("team-a." + stage.service(), c.getRawValue(WORK + "group.id"));
        }
    }

    @Test
    void kafkaBootstrapServersDefaultsToLocalhost() throws IOException {
        assertEquals("localhost:9092", config(Stage.MERGE, Map.of()).getRawValue("kafka.bootstrap.servers"));
        assertEquals("kafka:9092", config(Stage.MERGE, Map.of("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")).getRawValue("kafka.bootstrap.servers"));
    }

    /** A setting of the channel (a timeout, a serializer) is in one file: no service repeats or overrides a shared one. */
    @Test
    void aServicesFileHoldsOnlyWhatDiffers() throws IOException {
        Set<String> sharedKeys = shared().keySet();
        for (Stage stage : Stage.values()) {
            Map<String, String> own = read(serviceProperties(stage));
            Set<String> repeated = new TreeSet<>(own.keySet());
            repeated.retainAll(sharedKeys);
            assertEquals(Set.of(), repeated, stage.service() + " repeats shared settings");
            Set<String> messaging = new TreeSet<>(own.keySet());
            messaging.removeIf(k -> !k.startsWith("mp.messaging.") && !k.startsWith("kafka."));
            assertEquals(Set.of(WORK + "topic"), messaging, stage.service());
        }
    }
}
