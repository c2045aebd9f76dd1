package io.quantflow.stack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.io.IOException;
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
import java.util.function.Predicate;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A request redelivered after a crash gets exactly one answer and the same artifact, on the real
 * stack: a service is killed with SIGKILL (no shutdown hook, no offset commit, no upload aborted) at
 * a chosen point of a conversion, started again with {@code scripts/stack restart}, and the request
 * must still end in one {@code conversion-completed} whose files are byte for byte what
 * {@code quantflow convert} writes, with no multipart upload left open and nothing left under
 * {@code work/<id>/} but the request's records. The model is a synthetic llama-160m in three
 * shards of about 100 MB, so that each shard takes a few seconds to quantize on a small machine.
 * <p>
 * The killed consumer's partitions go to its successor once the broker has dropped it from the group:
 * after the consumers' session timeout (see the services' application.properties).
 */
@ExtendWith(StackCrashTest.KeepLogsOnFailure.class)
class StackCrashTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String MANIFEST = "quantflow-manifest.json";
    private static final String COMPLETED = "conversion-completed";
    private static final String FAILED = "conversion-failed";
    private static final Duration ANSWER_WITHIN = Duration.ofMinutes(4);

    private static Stack stack;
    /** The source in the work bucket: the synthetic model, uploaded once. */
    private static String source;
    /** What convert writes from the same folder, by file (without the manifest): sha256. */
    private static Map<String, String> expected;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void up() throws Exception {
        stack = Stack.start();
        assertEquals(4, stack.serviceUrls.size(), "the four services run: " + stack.serviceUrls);
        Path model = tmp.resolve("llama-160m");
        Stack.Run synth = stack.quantflow("synth", "--shape", "llama-160m", "--out", model.toString(),
                "--max-shard-size", "100000000");
        assertEquals(0, synth.exit(), synth.err());
        Path converted = tmp.resolve("converted");
        Stack.Run convert = stack.quantflow("convert", model.toString(), "--format", "bnb-4bit", "--out", converted.toString());
        assertEquals(0, convert.exit(), convert.err());
        expected = StackPipelineTest.sha256s(converted);
        assertTrue(expected.keySet().stream().filter(f -> f.endsWith(".safetensors")).count() >= 3, "several shards: " + expected);
        try (S3Client s3 = stack.s3Client(); Stream<Path> files = Files.list(model)) {
            for (Path p : files.toList()) {
                s3.putObject(r -> r.bucket(stack.workBucket).key("inputs/llama-160m/" + p.getFileName()), RequestBody.fromFile(p));
            }
        }
        source = "s3://" + stack.workBucket + "/inputs/llama-160m";
    }

    @AfterAll
    static void down() throws Exception {
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void aQuantizerKilledInTheMiddleOfAShardIsRestartedAndTheRequestGetsOneAnswerAndTheSameArtifact(TestInfo test) throws Exception {
        String id = id("quantize");
        long t0 = System.nanoTime();
        try (Events events = new Events(id)) {
            send(id);
            JsonNode started = events.awaitProgress(d -> d.path("stage").asText().equals("quantize") && d.path("bytesDone").asLong() == 0,
                    Duration.ofMinutes(3));
            stack.kill("quantizer");
            long killedAt = System.nanoTime();
            String shard = started.path("shard").path("file").asText();
            assertFalse(stack.keys(stack.workBucket, "work/" + id + "/").stream().anyMatch(k -> k.endsWith("/quantize/" + shard + ".result.json")),
                    "the quantizer was killed before it had finished " + shard);
            stack.restart("quantizer");
            finish(test, id, events, t0, killedAt);
        }
    }

    @Test
    void aQuantizerKilledWhileUploadingAShardLeavesNoUploadOpen(TestInfo test) throws Exception {
        String id = id("upload");
        long t0 = System.nanoTime();
        try (Events events = new Events(id); S3Client s3 = stack.s3Client()) {
            send(id);
            events.awaitProgress(d -> d.path("stage").asText().equals("quantize") && d.path("bytesDone").asLong() == 0, Duration.ofMinutes(3));
            // the shard's output is uploaded in parts once it is converted: kill the quantizer then
            String prefix = "work/" + id + "/";
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
            while (openUploads(s3, stack.workBucket, prefix).isEmpty()) {
                assertTrue(System.nanoTime() < deadline, "no multipart upload under " + prefix + " within a minute");
                Thread.sleep(5);
            }
            stack.kill("quantizer");
            long killedAt = System.nanoTime();
            List<String> open = openUploads(s3, stack.workBucket, prefix);
            Assumptions.assumeFalse(open.isEmpty(), "the upload was complete by the time the quantizer was killed");
            stack.restart("quantizer");
            finish(test, id, events, t0, killedAt);
        }
    }

    @Test
    void aPublisherKilledAfterItsFirstShardIsRestartedAndTheRequestGetsOneAnswerAndTheSameArtifact(TestInfo test) throws Exception {
        String id = id("publish");
        long t0 = System.nanoTime();
        try (Events events = new Events(id)) {
            send(id);
            JsonNode first = events.awaitProgress(d -> d.path("stage").asText().equals("publish"), Duration.ofMinutes(3));
            stack.kill("publisher");
            long killedAt = System.nanoTime();
            assertTrue(first.path("bytesDone").asLong() < first.path("bytesTotal").asLong(), "killed before the last shard: " + first);
            assertEquals(List.of(), stack.keys("models", target(id)), "nothing is published before the last shard is in");
            stack.restart("publisher");
            finish(test, id, events, t0, killedAt);
        }
    }

    /**
     * The publisher killed after it has begun to copy shards to the target but before it wrote the
     * manifest: the target holds files and no manifest, which the redelivered item must publish over
     * (ADR 10), not take for someone else's model (TARGET_EXISTS).
     */
    @Test
    void aPublisherKilledWhilePublishingPublishesAgainOverItsOwnFiles(TestInfo test) throws Exception {
        String id = id("publishing");
        long t0 = System.nanoTime();
        try (Events events = new Events(id); S3Client s3 = stack.s3Client()) {
            send(id);
            events.awaitProgress(d -> d.path("stage").asText().equals("publish") && d.path("bytesDone").asLong() == d.path("bytesTotal").asLong(),
                    Duration.ofMinutes(3));
            String prefix = target(id);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (s3.listObjectsV2(r -> r.bucket("models").prefix(prefix)).contents().isEmpty()) {
                assertTrue(System.nanoTime() < deadline, "nothing was published to " + prefix + " within 30 s");
                Thread.sleep(2);
            }
            stack.kill("publisher");
            long killedAt = System.nanoTime();
            List<String> there = stack.keys("models", prefix);
            Assumptions.assumeFalse(there.contains(prefix + MANIFEST), "the publisher had written the manifest before it was killed: " + there);
            stack.restart("publisher");
            finish(test, id, events, t0, killedAt);
        }
    }

    // ------------------------------------------------------------------------------------------

    /**
     * Exactly one answer, conversion-completed; its manifest's files and the objects at the target
     * are what convert wrote; no multipart upload open under the request's prefixes; only the
     * request's records left in the work bucket.
     */
    private static void finish(TestInfo test, String id, Events events, long t0, long killedAt) throws Exception {
        List<ConsumerRecord<String, String>> answers = events.awaitAnswers(ANSWER_WITHIN);
        long answeredAt = System.nanoTime();
        events.pollFor(Duration.ofSeconds(5)); // time for a second answer, were there one
        answers = events.answers();
        assertEquals(1, answers.size(), "one answer: " + answers.stream().map(ConsumerRecord::value).toList());
        assertEquals(COMPLETED, answers.get(0).topic(), answers.get(0).value());

        JsonNode outputs = JSON.readTree(answers.get(0).value()).path("data").path("outputs");
        assertEquals(1, outputs.size(), outputs.toString());
        assertEquals("s3://models/" + target(id).replaceAll("/$", ""), outputs.get(0).path("uri").asText());
        Map<String, String> listed = new TreeMap<>();
        for (JsonNode f : outputs.get(0).path("manifest").path("files")) {
            listed.put(f.path("path").asText(), f.path("sha256").asText());
        }
        assertEquals(expected, listed, "the completed event's manifest lists what convert wrote");

        Map<String, String> published = new TreeMap<>();
        try (S3Client s3 = stack.s3Client()) {
            for (S3Object o : s3.listObjectsV2Paginator(r -> r.bucket("models").prefix(target(id))).contents()) {
                String name = o.key().substring(target(id).length());
                if (!name.equals(MANIFEST)) {
                    try (ResponseInputStream<GetObjectResponse> in = s3.getObject(r -> r.bucket("models").key(o.key()))) {
                        published.put(name, Stack.sha256(in));
                    }
                } else {
                    JsonNode m = JSON.readTree(s3.getObjectAsBytes(r -> r.bucket("models").key(o.key())).asByteArray());
                    assertEquals(outputs.get(0).path("manifest"), m, "the manifest at the target is the event's");
                }
            }
            assertEquals(expected, published, "the files at the target are what convert wrote");
            assertTrue(stack.keys("models", target(id)).contains(target(id) + MANIFEST));

            assertEquals(List.of(), openUploads(s3, stack.workBucket, "work/" + id + "/"), "no multipart upload left open in the work bucket");
            assertEquals(List.of(), openUploads(s3, "models", target(id)), "no multipart upload left open at the target");
            // the intermediates go right after the answer
            List<String> records = List.of("answer.json", "answer.sent", "plan.json", "request.json");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            List<String> left;
            while (!(left = stack.keys(stack.workBucket, "work/" + id + "/").stream().map(k -> k.substring(("work/" + id + "/").length())).toList())
                    .equals(records) && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            assertEquals(records, left, "only the request's records are left in the work bucket");
        }
        System.out.printf("%s: killed %.1f s after the request, answered %.1f s after the kill (%.1f s in all)%n",
                test.getDisplayName(), (killedAt - t0) / 1e9, (answeredAt - killedAt) / 1e9, (answeredAt - t0) / 1e9);
    }

    private static String id(String what) {
        return "crash-" + what + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private static String target(String id) {
        return "crash/" + id + "/";
    }

    /** A bnb-4bit request of the synthetic model to s3://models/crash/ID, as a platform would send it. */
    private static void send(String id) throws Exception {
        String event = "{\"specversion\":\"1.0\",\"id\":\"" + UUID.randomUUID() + "\",\"source\":\"urn:test:platform\","
                + "\"type\":\"io.quantflow.conversion.requested\",\"datacontenttype\":\"application/json\",\"subject\":\"" + id + "\","
                + "\"data\":{\"requestId\":\"" + id + "\",\"source\":\"" + source + "\","
                + "\"outputs\":[{\"format\":\"bnb-4bit\"}],\"target\":{\"uri\":\"s3://models/crash/" + id + "\",\"ifExists\":\"fail\"}}}";
        stack.send("conversion-requested", id, event);
    }


    /** The keys under the prefix with a multipart upload neither completed nor aborted (S3 ListMultipartUploads). */
    private static List<String> openUploads(S3Client s3, String bucket, String prefix) {
        return s3.listMultipartUploadsPaginator(r -> r.bucket(bucket).prefix(prefix)).uploads().stream().map(MultipartUpload::key).toList();
    }


    /**
     * A request's records on conversion-progress and the two answer topics, from their beginning,
     * read as the test asks (assigned partitions, no consumer group).
     */
    private static final class Events implements AutoCloseable {
        private final String id;
        private final KafkaConsumer<String, String> consumer;
        private final List<ConsumerRecord<String, String>> seen = new ArrayList<>();

        Events(String id) {
            this.id = id;
            Properties cp = new Properties();
            cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrap);
            cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
            cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            consumer = new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer());
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : List.of("conversion-progress", COMPLETED, FAILED)) {
                for (PartitionInfo p : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
                    partitions.add(new TopicPartition(topic, p.partition()));
                }
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
        }

        private List<ConsumerRecord<String, String>> poll() {
            List<ConsumerRecord<String, String>> now = new ArrayList<>();
            for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(50))) {
                if (id.equals(r.key())) {
                    seen.add(r);
                    now.add(r);
                }
            }
            return now;
        }

        /** The data of the first progress event (from now on) that matches; fails when the request is answered first. */
        JsonNode awaitProgress(Predicate<JsonNode> match, Duration timeout) throws IOException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : poll()) {
                    if (!r.topic().equals("conversion-progress")) {
                        throw new AssertionError("answered before the awaited progress event: " + r.value());
                    }
                    JsonNode data = JSON.readTree(r.value()).path("data");
                    if (match.test(data)) {
                        return data;
                    }
                }
            }
            throw new AssertionError("no such progress event of " + id + " within " + timeout);
        }

        void pollFor(Duration d) {
            long deadline = System.nanoTime() + d.toNanos();
            while (System.nanoTime() < deadline) {
                poll();
            }
        }

        List<ConsumerRecord<String, String>> answers() {
            return seen.stream().filter(r -> !r.topic().equals("conversion-progress")).toList();
        }

        /** The answers, once there is one; fails when there is none within the timeout. */
        List<ConsumerRecord<String, String>> awaitAnswers(Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (answers().isEmpty() && System.nanoTime() < deadline) {
                poll();
            }
            assertNotEquals(List.of(), answers(), "no answer to " + id + " within " + timeout);
            return answers();
        }

        @Override
        public void close() {
            consumer.close();
        }
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
