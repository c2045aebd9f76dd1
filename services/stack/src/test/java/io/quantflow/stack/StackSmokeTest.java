package io.quantflow.stack;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.HeadBucketRequest;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * scripts/stack up brings up a broker and an S3 server that real clients use: one record through
 * conversion-requested, one object through the work bucket, and status says that everything runs;
 * each service consumes its topic in the consumer group of its name (KAFKA_GROUP_ID unset).
 */
@ExtendWith(StackSmokeTest.KeepLogsOnFailure.class)
class StackSmokeTest {
    private static Stack stack;

    @BeforeAll
    static void up() throws Exception {
        long t0 = System.nanoTime();
        stack = Stack.start();
        System.out.printf("stack up in %.1f s in %s: kafka %s, s3 %s, services %s%n",
                (System.nanoTime() - t0) / 1e9, stack.dir, stack.bootstrap, stack.s3Endpoint, stack.serviceUrls);
    }

    @AfterAll
    static void down() throws Exception {
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void aRecordGoesThroughConversionRequested() throws Exception {
        String topic = "conversion-requested";
        String id = "stack-smoke-" + UUID.randomUUID();
        String value = "{\"specversion\":\"1.0\",\"id\":\"" + id + "\",\"source\":\"urn:quantflow:stack-smoke-test\","
                + "\"type\":\"io.quantflow.stack.smoke-test\",\"data\":{}}";

        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrap);
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
        pp.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        RecordMetadata sent;
        try (var producer = new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
            sent = producer.send(new ProducerRecord<>(topic, id, value)).get(30, TimeUnit.SECONDS);
        }

        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrap);
        cp.put(ConsumerConfig.GROUP_ID_CONFIG, "stack-smoke-" + UUID.randomUUID());
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        ConsumerRecord<String, String> got = null;
        try (var consumer = new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (got == null && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    if (id.equals(r.key())) {
                        got = r;
                    }
                }
            }
            consumer.commitSync(Duration.ofSeconds(10));
        }
        assertTrue(got != null, "the record sent to " + topic + " (partition " + sent.partition()
                + ", offset " + sent.offset() + ") did not come back in 60 s");
        assertEquals(value, got.value());
        assertEquals(sent.partition(), got.partition());
        assertEquals(sent.offset(), got.offset());
    }

    @Test
    void anObjectGoesThroughTheWorkBucket() {
        String key = "stack-smoke/" + UUID.randomUUID() + ".txt";
        String body = "written by StackSmokeTest through " + stack.s3Endpoint;
        try (S3Client s3 = stack.s3Client()) {
            s3.putObject(PutObjectRequest.builder().bucket(stack.workBucket).key(key).contentType("text/plain").build(),
                    RequestBody.fromString(body, StandardCharsets.UTF_8));
            String back = s3.getObjectAsBytes(b -> b.bucket(stack.workBucket).key(key)).asString(StandardCharsets.UTF_8);
            assertEquals(body, back);
            // the other bucket of the stack is there too
            s3.headBucket(HeadBucketRequest.builder().bucket("models").build());
            s3.deleteObject(b -> b.bucket(stack.workBucket).key(key));
        }
    }

    @Test
    void statusSaysEverythingRuns() throws Exception {
        Stack.Result status = stack.status();
        assertEquals(0, status.exitCode(), status.output());
        assertTrue(status.output().contains("kafka"), status.output());
        assertTrue(status.output().contains("s3proxy"), status.output());
        for (String service : stack.serviceUrls.keySet()) {
            assertTrue(status.output().contains(service), status.output());
        }
    }

    @Test
    void theServicesThatRunAreReady() throws Exception {
        // up has waited for each already; ready means the same still
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        for (Map.Entry<String, URI> e : stack.serviceUrls.entrySet()) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(e.getValue().resolve("/q/health/ready"))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), e.getKey() + ": " + r.body());
        }
    }

    @Test
    void eachServiceConsumesItsTopicInTheGroupOfItsName() throws Exception {
        Map<String, String> topics = Map.of("fetcher", "conversion-requested", "merger", "quantflow-merge",
                "quantizer", "quantflow-quantize", "publisher", "quantflow-publish");
        Properties ap = new Properties();
        ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrap);
        try (Admin admin = Admin.create(ap)) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            for (String service : stack.serviceUrls.keySet()) {
                String group = "quantflow-" + service;
                Set<String> consumed = Set.of();
                while (consumed.isEmpty() && System.nanoTime() < deadline) {
                    consumed = consumedTopics(admin, group);
                    if (consumed.isEmpty()) {
                        Thread.sleep(500);
                    }
                }
                assertEquals(Set.of(topics.get(service)), consumed, "what group " + group + " consumes");
            }
        }
    }

    /** The topics the members of a consumer group are assigned; none for a group that has none (or is not there yet). */
    private static Set<String> consumedTopics(Admin admin, String group) throws Exception {
        try {
            ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get(30, TimeUnit.SECONDS).get(group);
            return d.members().stream().flatMap(m -> m.assignment().topicPartitions().stream()).map(TopicPartition::topic)
                    .collect(Collectors.toSet());
        } catch (ExecutionException e) {
            return Set.of();
        }
    }

    /** A failed test keeps the stack's logs (target/stack-logs/). */
    static final class KeepLogsOnFailure implements TestWatcher {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
            if (stack != null) {
                stack.keepLogs();
            }
        }
    }
}
