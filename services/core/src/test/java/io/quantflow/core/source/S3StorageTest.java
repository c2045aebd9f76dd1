package io.quantflow.core.source;

import io.quantflow.core.Fixtures;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.testing.S3TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

import java.io.ByteArrayInputStream;
import io.quantflow.core.convert.Converter;
import io.quantflow.core.error.Reason;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** S3 storage and the S3 source cache against S3Proxy on loopback. */
class S3StorageTest {
    static S3TestServer server;
    static S3Client admin;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() throws Exception {
        server = S3TestServer.start();
        admin = server.client();
    }

    @AfterAll
    static void stop() throws Exception {
        if (admin != null) {
            admin.close();
        }
        if (server != null) {
            server.close();
        }
    }

    static String newBucket() {
        String b = "qf-" + UUID.randomUUID().toString().substring(0, 8);
        admin.createBucket(r -> r.bucket(b));
        return b;
    }

    static S3Settings settings(Map<String, String> env) {
        return S3Settings.fromEnvironment(env, 2).withPartSize(S3Settings.MIN_PART_SIZE)
                .withBackoff(new Backoff(3, Duration.ofMillis(1), Duration.ofMillis(5)));
    }

    static S3Storage storage() {
        return S3Storage.open(settings(server.environment()));
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void aMultipartUploadRoundTripsThroughRangedDownloads() throws IOException {
        String bucket = newBucket();
        byte[] data = random(12 << 20, 1);
        Path file = tmp.resolve("blob");
        Files.write(file, data);
        try (S3Storage s3 = storage()) {
            s3.upload(bucket, "models/x/model.safetensors", file);
            List<S3Storage.ObjectInfo> listed = s3.list(bucket, "models/x/", true);
            assertEquals(1, listed.size());
            assertEquals(data.length, listed.get(0).size());
            assertTrue(listed.get(0).etag().endsWith("-3"), "three parts: " + listed.get(0).etag());
            try (InputStream in = s3.open(bucket, "models/x/model.safetensors", listed.get(0).etag(), 5_000_000).body()) {
                byte[] tail = in.readAllBytes();
                assertEquals(data.length - 5_000_000, tail.length);
                assertArrayEquals(Arrays.copyOfRange(data, 5_000_000, data.length), tail);
            }
            assertEquals(List.of(), s3.openUploads(bucket, ""));
        }
    }

    @Test
    void smallObjectsRangesCopiesAndConditionalWritesForThePipeline() throws IOException {
        String bucket = newBucket();
        byte[] data = random(7 << 20, 2);
        Path file = tmp.resolve("shard");
        Files.write(file, data);
        try (S3Storage s3 = storage()) {
            s3.upload(bucket, "work/a/shard", file);
            assertArrayEquals(Arrays.copyOfRange(data, 8, 8 + 1000), s3.readRange(bucket, "work/a/shard", 8, 1000));
            s3.copy(bucket, "work/a/shard", bucket, "out/shard", data.length);
            Path back = tmp.resolve("back");
            assertEquals(Converter.sha256(file), s3.download(bucket, "out/shard", back));
            assertArrayEquals(data, Files.readAllBytes(back));
            assertEquals(data.length, s3.head(bucket, "out/shard").size());
            assertNull(s3.head(bucket, "out/none"));
            assertNull(s3.readSmall(bucket, "out/none"));

            assertTrue(s3.putIfAbsent(bucket, "work/a/answer.json", "first".getBytes(StandardCharsets.UTF_8)));
            assertFalse(s3.putIfAbsent(bucket, "work/a/answer.json", "second".getBytes(StandardCharsets.UTF_8)));
            assertEquals("first", new String(s3.readSmall(bucket, "work/a/answer.json"), StandardCharsets.UTF_8));
            QuantflowException missing = assertThrows(QuantflowException.class, () -> s3.download(bucket, "nope", tmp.resolve("x")));
            assertEquals(ErrorCode.SOURCE_NOT_FOUND, missing.code());
            assertEquals(Reason.S3_OBJECT_NOT_FOUND, missing.reason());
        }
    }

    @Test
    void anUploadThatFailsHalfwayIsAbortedAndLeavesNoParts() {
        String bucket = newBucket();
        byte[] data = random(12 << 20, 2);
        S3Storage.Content failing = new S3Storage.Content() {
            @Override
            public long size() {
                return data.length;
            }

            @Override
            public InputStream open(long offset, long length) throws IOException {
                if (offset >= S3Settings.MIN_PART_SIZE) {
                    throw new IOException("disk read error (simulated)");
                }
                return new ByteArrayInputStream(data, (int) offset, (int) length);
            }
        };
        try (S3Storage s3 = storage()) {
            // the control: this server does report an upload left open
            String id = admin.createMultipartUpload(r -> r.bucket(bucket).key("control")).uploadId();
            assertEquals(List.of("control"), s3.openUploads(bucket, ""));
            admin.abortMultipartUpload(r -> r.bucket(bucket).key("control").uploadId(id));

            QuantflowException e = assertThrows(QuantflowException.class, () -> s3.upload(bucket, "out/model.safetensors", failing));
            assertEquals(ErrorCode.INTERNAL, e.code());
            assertEquals(Reason.IO_ERROR, e.reason(), e.getMessage());
            assertTrue(e.getMessage().contains("simulated"), e.getMessage());
            assertEquals(List.of(), s3.openUploads(bucket, ""), "no multipart upload (and so no part) is left");
            assertEquals(List.of(), s3.list(bucket, "", false));
        }
        assertTrue(admin.listMultipartUploads(r -> r.bucket(bucket)).uploads().isEmpty());
    }

    /**
     * The store writes the object but its answer is lost (the connection drops), so the SDK sends the
     * conditional PUT again and gets 412: the object is this writer's own, not another writer's.
     */
    @Test
    void aConditionalWriteWhoseAnswerWasLostAndThatTheSdkRetriedIsStillOurs() throws Exception {
        String bucket = newBucket();
        byte[] manifest = "{\"manifest\":1}".getBytes(StandardCharsets.UTF_8);
        try (AnswerDroppingProxy proxy = new AnswerDroppingProxy(URI.create(server.endpoint()).getPort());
             S3Storage s3 = S3Storage.open(settings(proxy.environment(server.environment())))) {
            assertTrue(s3.putIfAbsent(bucket, "out/quantflow-manifest.json", manifest), "the retry found our own write");
            assertEquals(1, proxy.dropped.get(), "one answer was dropped");
            assertFalse(s3.putIfAbsent(bucket, "out/quantflow-manifest.json", manifest), "a second write (no retry) is refused");
        }
        assertArrayEquals(manifest, admin.getObjectAsBytes(r -> r.bucket(bucket).key("out/quantflow-manifest.json")).asByteArray());
    }

    /**
     * A TCP proxy to the S3 server that forwards everything but the answer to the first request
     * carrying If-None-Match: it closes that connection once the server has answered (after any
     * 100 Continue), so the write is done and its answer lost.
     */
    static final class AnswerDroppingProxy implements AutoCloseable {
        final AtomicInteger dropped = new AtomicInteger();
        private final AtomicBoolean armed = new AtomicBoolean(true);
        private final ServerSocket listener;
        private final int upstream;

        AnswerDroppingProxy(int upstream) throws IOException {
            this.upstream = upstream;
            listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            Thread accept = new Thread(() -> {
                while (!listener.isClosed()) {
                    try {
                        Socket client = listener.accept();
                        Socket server = new Socket(InetAddress.getLoopbackAddress(), upstream);
                        AtomicBoolean drop = new AtomicBoolean();
                        pump(client, server, drop, true);
                        pump(server, client, drop, false);
                    } catch (IOException e) {
                        return;
                    }
                }
            }, "answer-dropping-proxy");
            accept.setDaemon(true);
            accept.start();
        }

        Map<String, String> environment(Map<String, String> env) {
            Map<String, String> e = new HashMap<>(env);
            e.put("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:" + listener.getLocalPort());
            return e;
        }

        private void pump(Socket from, Socket to, AtomicBoolean drop, boolean request) {
            Thread t = new Thread(() -> {
                byte[] buf = new byte[1 << 16];
                try (InputStream in = from.getInputStream()) {
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        String head = new String(buf, 0, Math.min(n, 4096), StandardCharsets.ISO_8859_1);
                        if (request && head.toLowerCase(Locale.ROOT).contains("if-none-match:") && armed.compareAndSet(true, false)) {
                            drop.set(true);
                        }
                        if (!request && drop.get() && !head.startsWith("HTTP/1.1 100")) {
                            dropped.incrementAndGet();
                            from.close();
                            to.close();
                            return;
                        }
                        to.getOutputStream().write(buf, 0, n);
                        to.getOutputStream().flush();
                    }
                } catch (IOException ignored) {
                    // a closed connection
                }
                try {
                    to.close();
                } catch (IOException ignored) {
                    // closed already
                }
            }, "answer-dropping-proxy-pump");
            t.setDaemon(true);
            t.start();
        }

        @Override
        public void close() throws IOException {
            listener.close();
        }
    }

    @Test
    void uploadsLeftOpenByAKilledProcessAreAbortedByPrefixAndKey() {
        String bucket = newBucket();
        // as a process killed in the middle of its uploads leaves them: begun, a part stored, never completed
        for (String key : List.of("work/r1/a.safetensors", "work/r1/b.safetensors", "work/r2/a.safetensors")) {
            String id = admin.createMultipartUpload(r -> r.bucket(bucket).key(key)).uploadId();
            admin.uploadPart(r -> r.bucket(bucket).key(key).uploadId(id).partNumber(1), RequestBody.fromString("part"));
        }
        try (S3Storage s3 = storage()) {
            assertEquals(1, s3.abortUploads(bucket, "work/r1/", k -> k.endsWith("/b.safetensors")));
            assertEquals(List.of("work/r1/a.safetensors", "work/r2/a.safetensors"), s3.openUploads(bucket, "").stream().sorted().toList());
            assertEquals(1, s3.abortUploads(bucket, "work/r1/", k -> true));
            assertEquals(List.of("work/r2/a.safetensors"), s3.openUploads(bucket, ""));
            assertEquals(0, s3.abortUploads(bucket, "work/r1/", k -> true));
        }
    }

    @Test
    void anS3SourceIsFetchedIntoTheCacheWithVerifiedSizes() throws IOException {
        String bucket = newBucket();
        Path model = Fixtures.path("tiny-llama/base-bf16");
        putDirectory(bucket, "models/tiny", model);
        admin.putObject(r -> r.bucket(bucket).key("models/tiny/pytorch_model.bin"), RequestBody.fromBytes(new byte[] {1}));
        admin.putObject(r -> r.bucket(bucket).key("models/tiny/sub/notes.txt"), RequestBody.fromBytes(new byte[] {1}));
        try (S3Storage s3 = storage()) {
            S3Fetcher fetcher = new S3Fetcher(s3, tmp.resolve("cache/s3"));
            ModelLocation.S3 loc = (ModelLocation.S3) ModelLocation.parse("s3://" + bucket + "/models/tiny/");
            S3Fetcher.Snapshot snap = fetcher.fetch(loc, SourceListener.NONE);
            List<String> names;
            try (Stream<Path> s = Files.list(snap.dir())) {
                names = s.map(p -> p.getFileName().toString()).sorted().toList();
            }
            assertEquals(List.of("config.json", "generation_config.json", "model.safetensors"), names);
            for (String n : names) {
                assertArrayEquals(Files.readAllBytes(model.resolve(n)), Files.readAllBytes(snap.dir().resolve(n)), n);
            }
            List<ContentHash.FileDigest> digests = new ArrayList<>();
            for (String n : names) {
                digests.add(new ContentHash.FileDigest(n, Files.size(model.resolve(n)), Converter.sha256(model.resolve(n))));
            }
            assertEquals(ContentHash.of(digests), snap.contentHash());
            // a second fetch finds everything in the cache
            S3Fetcher.Snapshot again = fetcher.fetch(loc, new SourceListener() {
                @Override
                public void downloadStarted(String what, long bytes) {
                    throw new AssertionError("downloaded again");
                }
            });
            assertEquals(snap.dir(), again.dir());
        }
    }

    @Test
    void wrongCredentialsAreAccessDeniedWithoutTheSecret() {
        String bucket = newBucket();
        Map<String, String> env = new HashMap<>(server.environment());
        env.put("AWS_SECRET_ACCESS_KEY", "definitely-wrong-secret");
        try (S3Storage s3 = S3Storage.open(settings(env))) {
            QuantflowException e = assertThrows(QuantflowException.class, () -> s3.list(bucket, "", true));
            assertEquals(ErrorCode.ACCESS_DENIED, e.code());
            assertEquals(Reason.S3_ACCESS_DENIED, e.reason());
            assertFalse(e.getMessage().contains("definitely-wrong-secret"), e.getMessage());
            assertFalse(e.getMessage().contains(S3TestServer.IDENTITY), e.getMessage());
        }
    }

    @Test
    void missingBucketsAndEmptyPrefixesAreSourceNotFound() {
        String bucket = newBucket();
        try (S3Storage s3 = storage()) {
            S3Fetcher fetcher = new S3Fetcher(s3, tmp.resolve("cache/s3"));
            QuantflowException noBucket = assertThrows(QuantflowException.class, () -> fetcher.fetch(
                    (ModelLocation.S3) ModelLocation.parse("s3://no-such-bucket-qf/x"), SourceListener.NONE));
            assertEquals(ErrorCode.SOURCE_NOT_FOUND, noBucket.code(), noBucket.getMessage());
            assertEquals(Reason.S3_BUCKET_NOT_FOUND, noBucket.reason(), noBucket.getMessage());
            QuantflowException empty = assertThrows(QuantflowException.class, () -> fetcher.fetch(
                    (ModelLocation.S3) ModelLocation.parse("s3://" + bucket + "/nothing"), SourceListener.NONE));
            assertEquals(ErrorCode.SOURCE_NOT_FOUND, empty.code(), empty.getMessage());
            assertEquals(Reason.LOCATION_EMPTY, empty.reason(), empty.getMessage());
        }
    }

    @Test
    void credentialsComeFromAProfileFileToo() throws IOException {
        String bucket = newBucket();
        Path file = tmp.resolve("credentials");
        Files.writeString(file, "[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n\n[local]\naws_access_key_id = "
                + S3TestServer.IDENTITY + "\naws_secret_access_key = " + S3TestServer.CREDENTIAL + "\n");
        Map<String, String> env = new HashMap<>();
        env.put("AWS_SHARED_CREDENTIALS_FILE", file.toString());
        env.put("AWS_PROFILE", "local");
        env.put("AWS_ENDPOINT_URL_S3", server.endpoint());
        S3Settings settings = settings(env);
        assertTrue(settings.credentials() instanceof S3Credentials.Profile);
        assertFalse(settings.toString().contains(S3TestServer.CREDENTIAL));
        try (S3Storage s3 = S3Storage.open(settings)) {
            assertTrue(s3.isEmpty(bucket, "", false));
        }
    }

    static void putDirectory(String bucket, String prefix, Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                admin.putObject(r -> r.bucket(bucket).key(prefix + "/" + p.getFileName()), RequestBody.fromFile(p));
            }
        }
    }
}
