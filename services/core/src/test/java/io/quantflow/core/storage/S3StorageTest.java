package io.quantflow.core.storage;

import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.testing.S3TestServer;
import io.quantflow.core.util.Digests;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** S3 storage against S3Proxy on loopback. */
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
        return server.newBucket();
    }

    static S3Settings settings(Map<String, String> env) {
        return server.quickSettings(env);
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
            S3Bucket b = s3.bucket(Role.TARGET, bucket);
            b.upload("models/x/model.safetensors", file);
            List<ObjectInfo> listed = b.listTop("models/x/");
            assertEquals(1, listed.size());
            assertEquals(data.length, listed.get(0).size());
            assertTrue(listed.get(0).etag().endsWith("-3"), "three parts: " + listed.get(0).etag());
            try (InputStream in = b.open("models/x/model.safetensors", listed.get(0).etag(), 5_000_000).body()) {
                byte[] tail = in.readAllBytes();
                assertEquals(data.length - 5_000_000, tail.length);
                assertArrayEquals(Arrays.copyOfRange(data, 5_000_000, data.length), tail);
            }
            assertEquals(List.of(), b.openUploads(""));
        }
    }

    @Test
    void smallObjectsRangesCopiesAndConditionalWritesForThePipeline() throws IOException {
        String bucket = newBucket();
        byte[] data = random(7 << 20, 2);
        Path file = tmp.resolve("shard");
        Files.write(file, data);
        try (S3Storage s3 = storage()) {
            S3Bucket work = s3.bucket(Role.WORK, bucket);
            S3Bucket target = s3.bucket(Role.TARGET, bucket);
            S3Bucket source = s3.bucket(Role.SOURCE, bucket);
            work.upload("work/a/shard", file);
            assertArrayEquals(Arrays.copyOfRange(data, 8, 8 + 1000), source.readRange("work/a/shard", 8, 1000));
            target.copyFrom(work, "work/a/shard", "out/shard", data.length);
            Path back = tmp.resolve("back");
            assertEquals(Digests.sha256(file), source.download("out/shard", back));
            assertArrayEquals(data, Files.readAllBytes(back));
            assertEquals(data.length, target.head("out/shard").size());
            assertNull(work.head("out/none"));
            assertNull(work.readSmall("out/none"));

            assertTrue(work.putIfAbsent("work/a/answer.json", "first".getBytes(StandardCharsets.UTF_8)));
            assertFalse(work.putIfAbsent("work/a/answer.json", "second".getBytes(StandardCharsets.UTF_8)));
            assertEquals("first", new String(work.readSmall("work/a/answer.json"), StandardCharsets.UTF_8));
            QuantflowException missing = assertThrows(QuantflowException.class, () -> source.download("nope", tmp.resolve("x")));
            assertEquals(ErrorCode.SOURCE_NOT_FOUND, missing.code());
            assertEquals(Reason.S3_OBJECT_NOT_FOUND, missing.reason());
            QuantflowException lost = assertThrows(QuantflowException.class, () -> work.download("nope", tmp.resolve("x")));
            assertEquals(ErrorCode.INTERNAL, lost.code(), "a pipeline object that is missing is the pipeline's failure");
            assertEquals(Reason.STORE_OBJECT_MISSING, lost.reason());
        }
    }

    /** The same missing bucket is a source not found, a request that names a bucket that is not there, or the pipeline's failure. */
    @Test
    void aMissingBucketIsReadByTheRoleItPlays() {
        try (S3Storage s3 = storage()) {
            QuantflowException source = assertThrows(QuantflowException.class, () -> s3.bucket(Role.SOURCE, "no-such-bucket-qf").listTop("x/"));
            assertEquals(ErrorCode.SOURCE_NOT_FOUND, source.code());
            assertEquals(Reason.S3_BUCKET_NOT_FOUND, source.reason());
            QuantflowException target = assertThrows(QuantflowException.class, () -> s3.bucket(Role.TARGET, "no-such-bucket-qf").isEmpty("x/"));
            assertEquals(ErrorCode.INVALID_REQUEST, target.code());
            assertEquals(Reason.TARGET_BUCKET_NOT_FOUND, target.reason());
            assertEquals(Reason.TARGET_BUCKET_NOT_FOUND, assertThrows(QuantflowException.class,
                    () -> s3.bucket(Role.TARGET, "no-such-bucket-qf").put("x/a.json", new byte[] {1})).reason());
            QuantflowException work = assertThrows(QuantflowException.class, () -> s3.bucket(Role.WORK, "no-such-bucket-qf").list("work/"));
            assertEquals(ErrorCode.INTERNAL, work.code());
            assertEquals(Reason.WORK_BUCKET_NOT_FOUND, work.reason());
            assertTrue(work.getMessage().contains("s3://no-such-bucket-qf/work/") && work.getMessage().contains("does not exist"),
                    work.getMessage());
        }
    }

    @Test
    void anUploadThatFailsHalfwayIsAbortedAndLeavesNoParts() {
        String bucket = newBucket();
        byte[] data = random(12 << 20, 2);
        UploadContent failing = new UploadContent() {
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
            S3Bucket b = s3.bucket(Role.TARGET, bucket);
            // the control: this server does report an upload left open
            String id = admin.createMultipartUpload(r -> r.bucket(bucket).key("control")).uploadId();
            assertEquals(List.of("control"), b.openUploads(""));
            admin.abortMultipartUpload(r -> r.bucket(bucket).key("control").uploadId(id));

            QuantflowException e = assertThrows(QuantflowException.class, () -> b.upload("out/model.safetensors", failing));
            assertEquals(ErrorCode.INTERNAL, e.code());
            assertEquals(Reason.IO_ERROR, e.reason(), e.getMessage());
            assertTrue(e.getMessage().contains("simulated"), e.getMessage());
            assertEquals(List.of(), b.openUploads(""), "no multipart upload (and so no part) is left");
            assertEquals(List.of(), b.list(""));
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
            S3Bucket b = s3.bucket(Role.TARGET, bucket);
            assertTrue(b.putIfAbsent("out/quantflow-manifest.json", manifest), "the retry found our own write");
            assertEquals(1, proxy.dropped.get(), "one answer was dropped");
            assertFalse(b.putIfAbsent("out/quantflow-manifest.json", manifest), "a second write (no retry) is refused");
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
            S3Bucket b = s3.bucket(Role.WORK, bucket);
            assertEquals(1, b.abortUploads("work/r1/", k -> k.endsWith("/b.safetensors")));
            assertEquals(List.of("work/r1/a.safetensors", "work/r2/a.safetensors"), b.openUploads("").stream().sorted().toList());
            assertEquals(1, b.abortUploads("work/r1/", k -> true));
            assertEquals(List.of("work/r2/a.safetensors"), b.openUploads(""));
            assertEquals(0, b.abortUploads("work/r1/", k -> true));
        }
    }

    @Test
    void wrongCredentialsAreAccessDeniedWithoutTheSecret() {
        String bucket = newBucket();
        Map<String, String> env = new HashMap<>(server.environment());
        env.put("AWS_SECRET_ACCESS_KEY", "definitely-wrong-secret");
        try (S3Storage s3 = S3Storage.open(settings(env))) {
            QuantflowException e = assertThrows(QuantflowException.class, () -> s3.bucket(Role.SOURCE, bucket).listTop(""));
            assertEquals(ErrorCode.ACCESS_DENIED, e.code());
            assertEquals(Reason.S3_ACCESS_DENIED, e.reason());
            assertFalse(e.getMessage().contains("definitely-wrong-secret"), e.getMessage());
            assertFalse(e.getMessage().contains(S3TestServer.IDENTITY), e.getMessage());
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
            assertTrue(s3.bucket(Role.TARGET, bucket).isEmpty(""));
        }
    }

}
