package io.quantflow.stack;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pipeline as users run it: scripts/stack up (a real Kafka broker, S3Proxy, the four services
 * from their built jars), then the quantflow command (its jar, in its own JVM) submitting
 * requests, and raw Kafka clients where a test needs to send what the command never would.
 */
@ExtendWith(StackPipelineTest.KeepLogsOnFailure.class)
class StackPipelineTest {
    private static Stack stack;

    @TempDir
    Path tmp;

    @BeforeAll
    static void up() throws Exception {
        stack = Stack.start();
        assertEquals(4, stack.serviceUrls.size(), "the four services run: " + stack.serviceUrls);
    }

    @AfterAll
    static void down() throws Exception {
        if (stack != null) {
            stack.close();
        }
    }

    static Path fixture(String rel) {
        Path p = Path.of(System.getProperty("quantflow.fixtures", "../../../shared/fixtures")).resolve(rel).toAbsolutePath().normalize();
        Assumptions.assumeTrue(Files.isDirectory(p), "reference fixtures not found at " + p);
        return p;
    }

    static Map<String, String> sha256s(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                if (!p.getFileName().toString().equals("quantflow-manifest.json")) {
                    try (InputStream in = Files.newInputStream(p)) {
                        out.put(dir.relativize(p).toString(), Stack.sha256(in));
                    }
                }
            }
        }
        return out;
    }



    @Test
    void submitPublishesTheSameFilesAsConvert() throws Exception {
        Path base = fixture("tiny-llama/base-bf16");
        Path adapter = fixture("tiny-llama/lora-adapter");
        Path got = tmp.resolve("submitted");
        Stack.Run submit = stack.quantflow("submit", base.toString(), "--adapter", adapter.toString(), "--format", "merged-16bit,merged-4bit,lora",
                "--out", "s3://models/it/tiny-merged", "--download", got.toString());
        assertEquals(0, submit.exit(), submit.err());
        Path expected = tmp.resolve("converted");
        Stack.Run convert = stack.quantflow("convert", base.toString(), "--adapter", adapter.toString(), "--format", "merged-16bit,merged-4bit,lora",
                "--out", expected.toString());
        assertEquals(0, convert.exit(), convert.err());
        Map<String, String> want = sha256s(expected);
        assertEquals(want, sha256s(got));
        for (Map.Entry<String, String> e : want.entrySet()) {
            if (e.getKey().startsWith("merged-4bit/")) {
                assertTrue(submit.out().contains(e.getValue() + "  " + e.getKey().substring("merged-4bit/".length())),
                        "submit prints each file's sha256: " + submit.out());
            }
        }
        assertTrue(Files.isRegularFile(got.resolve("merged-4bit/quantflow-manifest.json")));
        // nothing is left in the work bucket but the request's records
        assertEquals(List.of(), stack.keys(stack.workBucket, "staging/"));
    }

    @Test
    void aRequestDeliveredTwiceGetsOneArtifactAndOneAnswer() throws Exception {
        Path base = fixture("tiny-llama/base-bf16");
        try (S3Client s3 = stack.s3Client(); Stream<Path> files = Files.list(base)) {
            for (Path p : files.toList()) {
                s3.putObject(r -> r.bucket(stack.workBucket).key("inputs/tiny/" + p.getFileName()), RequestBody.fromFile(p));
            }
        }
        String id = "it-twice-" + UUID.randomUUID().toString().substring(0, 8);
        String event = "{\"specversion\":\"1.0\",\"id\":\"" + UUID.randomUUID() + "\",\"source\":\"urn:test:platform\","
                + "\"type\":\"io.quantflow.conversion.requested\",\"datacontenttype\":\"application/json\",\"subject\":\"" + id + "\","
                + "\"data\":{\"requestId\":\"" + id + "\",\"source\":\"s3://" + stack.workBucket + "/inputs/tiny\","
                + "\"outputs\":[{\"format\":\"bnb-4bit\"}],\"target\":{\"uri\":\"s3://models/it/" + id + "\",\"ifExists\":\"fail\"}}}";
        double before = metric("fetcher", "quantflow_duplicates_total");
        stack.send("conversion-requested", id, event);
        stack.send("conversion-requested", id, event);
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (metric("fetcher", "quantflow_duplicates_total") < before + 1 && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        List<ConsumerRecord<String, String>> answers = waitFor(List.of("conversion-completed", "conversion-failed"), id, 1);
        Thread.sleep(5000); // time for a second answer, were there one
        answers = waitFor(List.of("conversion-completed", "conversion-failed"), id, 2, Duration.ofSeconds(5));
        assertEquals(1, answers.size(), "one answer: " + answers);
        assertEquals("conversion-completed", answers.get(0).topic(), answers.get(0).value());
        List<String> objects = stack.keys("models", "it/" + id + "/");
        assertTrue(objects.contains("it/" + id + "/quantflow-manifest.json"), objects.toString());
        assertEquals(5, objects.size(), "config, generation config, weights, model card and manifest: " + objects);
    }

    @Test
    void aMalformedEventGoesToTheDeadLetterTopicAndTheFetcherGoesOn() throws Exception {
        String key = "junk-" + UUID.randomUUID();
        stack.send("conversion-requested", key, "{not a cloudevent");
        List<ConsumerRecord<String, String>> dead = waitFor(List.of("conversion-requested-dlq"), key, 1);
        assertEquals("{not a cloudevent", dead.get(0).value());
        // and the next request is answered
        Stack.Run r = stack.quantflow("submit", "s3://" + stack.workBucket + "/no/such/model", "--out", "s3://models/it/never");
        assertEquals(3, r.exit(), r.err());
        assertTrue(r.err().contains("error: SOURCE_NOT_FOUND: "), r.err());
        assertEquals(List.of(), stack.keys("models", "it/never/"));
    }

    @Test
    void anOccupiedTargetIsTargetExists() throws Exception {
        try (S3Client s3 = stack.s3Client()) {
            s3.putObject(r -> r.bucket("models").key("it/taken/model.safetensors"), RequestBody.fromString("someone else's"));
        }
        Stack.Run r = stack.quantflow("submit", fixture("tiny-llama/base-bf16").toString(), "--out", "s3://models/it/taken");
        assertEquals(3, r.exit(), r.err());
        assertTrue(r.err().contains("error: TARGET_EXISTS: "), r.err());
        assertEquals(List.of("it/taken/model.safetensors"), stack.keys("models", "it/taken/"));
    }

    @Test
    void theServicesAreReadyReportMetricsLogJsonAndKeepTheSecretOutOfTheirLogs() throws Exception {
        // a conversion first, so that every service has done something worth logging and counting
        Stack.Run r = stack.quantflow("submit", fixture("tiny-llama/base-bf16").toString(), "--out", "s3://models/it/observed");
        assertEquals(0, r.exit(), r.err());
        HttpClient http = HttpClient.newHttpClient();
        for (Map.Entry<String, URI> service : stack.serviceUrls.entrySet()) {
            for (String path : List.of("/q/health/live", "/q/health/ready")) {
                HttpResponse<String> h = http.send(HttpRequest.newBuilder(service.getValue().resolve(path)).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, h.statusCode(), service.getKey() + path + ": " + h.body());
                assertTrue(h.body().contains("\"UP\""), h.body());
            }
            String metrics = http.send(HttpRequest.newBuilder(service.getValue().resolve("/q/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertTrue(metrics.contains("kafka_consumer_fetch_manager_records_lag_max"), service.getKey() + ": consumer lag is exported");
        }
        assertTrue(metric("quantizer", "quantflow_items_total") >= 1);
        assertTrue(metric("quantizer", "quantflow_item_bytes_in_total") > 0);
        assertTrue(metric("publisher", "quantflow_answers_total") >= 1);
        assertTrue(metric("fetcher", "quantflow_items_planned_total") >= 1);
        for (String service : stack.serviceUrls.keySet()) {
            List<String> lines = Files.readAllLines(stack.dir.resolve("logs").resolve(service + ".log"));
            assertTrue(lines.stream().noneMatch(l -> l.contains(stack.secretKey)), service + " logs the S3 secret");
            long json = lines.stream().filter(l -> l.startsWith("{\"timestamp\"")).count();
            assertTrue(json > 0 && lines.stream().filter(l -> !l.isBlank() && !l.startsWith("{")).count() <= 1,
                    service + " logs JSON lines (the JVM's one incubator warning aside)");
        }
    }


    static List<ConsumerRecord<String, String>> waitFor(List<String> topics, String key, int count) {
        return waitFor(topics, key, count, Duration.ofMinutes(3));
    }

    /** The records with {@code key} on the topics, from their beginning, once there are {@code count} or the time is up. */
    static List<ConsumerRecord<String, String>> waitFor(List<String> topics, String key, int count, Duration timeout) {
        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrap);
        cp.put(ConsumerConfig.GROUP_ID_CONFIG, "it-" + UUID.randomUUID());
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        List<ConsumerRecord<String, String>> found = new ArrayList<>();
        try (var consumer = new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(topics);
            long deadline = System.nanoTime() + timeout.toNanos();
            while (found.size() < count && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(300))) {
                    if (key.equals(r.key())) {
                        found.add(r);
                    }
                }
            }
        }
        if (count == 1 && found.isEmpty()) {
            throw new AssertionError("nothing keyed " + key + " on " + topics + " within " + timeout);
        }
        return found;
    }

    /** A counter's value on a service's /q/metrics (0 when it has not been counted yet). */
    static double metric(String service, String name) throws IOException, InterruptedException {
        URI url = stack.serviceUrls.get(service).resolve("/q/metrics");
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(url).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        assertEquals(200, r.statusCode(), url.toString());
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "(\\{[^}]*\\})? ([0-9.eE+-]+)$").matcher(r.body());
        double v = 0;
        while (m.find()) {
            v += Double.parseDouble(m.group(2));
        }
        return v;
    }

    static final class KeepLogsOnFailure implements TestWatcher {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
            if (stack != null) {
                stack.keepLogs();
            }
        }
    }
}
