package io.quantflow.core.job;

import io.quantflow.core.Fixtures;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.Formats;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.source.ContentHash;
import io.quantflow.core.source.HubSettings;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.source.VariantMap;
import io.quantflow.core.storage.S3Settings;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.testing.S3TestServer;
import io.quantflow.core.transfer.Backoff;
import io.quantflow.core.util.Digests;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** s3:// sources and targets through the JobRunner, against S3Proxy on loopback. */
class S3JobTest {
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

    JobRunner runner() {
        HubSettings hub = HubSettings.from("http://127.0.0.1:9", Map.of(), 2);
        return new JobRunner(new JobSettings(tmp.resolve("cache"), hub, () -> S3Settings.fromEnvironment(
                server.environment(), 2).withBackoff(new Backoff(3, Duration.ofMillis(1), Duration.ofMillis(5))), VariantMap.NONE));
    }

    static String bucket() {
        return server.newBucket();
    }

    static ConversionJob job(String source, String target, IfExists ifExists) {
        return new ConversionJob(ModelLocation.parse(source), null, ModelLocation.parse(target), List.of(Formats.BNB_4BIT),
                QuantOptions.defaults(), null, ifExists, 2, true, false);
    }

    static List<String> keys(String bucket, String prefix) {
        return admin.listObjectsV2(r -> r.bucket(bucket).prefix(prefix)).contents().stream().map(S3Object::key).sorted().toList();
    }

    static byte[] get(String bucket, String key) {
        return admin.getObjectAsBytes(r -> r.bucket(bucket).key(key)).asByteArray();
    }

    @Test
    void anS3SourceConvertsToALocalDirectory() throws IOException {
        String bucket = bucket();
        Path base = Fixtures.path("tiny-llama/base-bf16");
        try (Stream<Path> s = Files.list(base)) {
            for (Path p : s.toList()) {
                admin.putObject(r -> r.bucket(bucket).key("models/tiny/" + p.getFileName()), RequestBody.fromFile(p));
            }
        }
        Path out = tmp.resolve("out");
        Path direct = tmp.resolve("direct");
        try (JobRunner r = runner()) {
            JobRunner.Outcome o = r.run(job("s3://" + bucket + "/models/tiny", out.toString(), IfExists.FAIL), JobRunner.Listener.NONE);
            assertFalse(o.cached());
            r.run(job(base.toString(), direct.toString(), IfExists.FAIL), JobRunner.Listener.NONE);
        }
        Manifest m = Manifest.read(out.resolve(Manifest.FILE_NAME));
        assertEquals("s3://" + bucket + "/models/tiny", m.source().uri());
        // an object store's files are identified by their sha256 (a local directory by its files' stat and heads)
        List<ContentHash.FileDigest> digests = new ArrayList<>();
        try (Stream<Path> files = Files.list(base)) {
            for (Path p : files.sorted().toList()) {
                digests.add(new ContentHash.FileDigest(p.getFileName().toString(), Files.size(p),
                        Digests.sha256(p)));
            }
        }
        assertEquals(ContentHash.of(digests), m.source().contentHash());
        assertTrue(Manifest.read(direct.resolve(Manifest.FILE_NAME)).source().contentHash().startsWith("stat:"));
        assertArrayEquals(Files.readAllBytes(direct.resolve("model.safetensors")), Files.readAllBytes(out.resolve("model.safetensors")));
    }

    @Test
    void anS3TargetGetsEveryFileAndTheManifestAndRefusesAnOccupiedPrefix() throws IOException {
        String bucket = bucket();
        Path base = Fixtures.path("tiny-llama/base-bf16");
        String target = "s3://" + bucket + "/out/tiny-nf4";
        try (JobRunner r = runner()) {
            JobRunner.Outcome o = r.run(job(base.toString(), target, IfExists.FAIL), JobRunner.Listener.NONE);
            assertFalse(o.cached());
            Manifest m = o.manifests().get(0);
            List<String> expected = new ArrayList<>(m.files().stream().map(f -> "out/tiny-nf4/" + f.path()).toList());
            expected.add("out/tiny-nf4/" + Manifest.FILE_NAME);
            assertEquals(expected.stream().sorted().toList(), keys(bucket, "out/"));
            Path entry = r.cache().entry(m.cacheKey());
            for (Manifest.FileEntry f : m.files()) {
                assertArrayEquals(Files.readAllBytes(entry.resolve(f.path())), get(bucket, "out/tiny-nf4/" + f.path()), f.path());
            }
            assertEquals(List.of(), admin.listMultipartUploads(q -> q.bucket(bucket)).uploads());

            QuantflowException taken = assertThrows(QuantflowException.class,
                    () -> r.run(job(base.toString(), target, IfExists.FAIL), JobRunner.Listener.NONE));
            assertEquals(ErrorCode.TARGET_EXISTS, taken.code());
            assertEquals(Reason.TARGET_NOT_EMPTY, taken.reason());

            // overwrite: served from the cache, stale objects removed, the manifest says cached
            admin.putObject(q -> q.bucket(bucket).key("out/tiny-nf4/stale.bin"), RequestBody.fromBytes(new byte[] {1}));
            JobRunner.Outcome again = r.run(job(base.toString(), target, IfExists.OVERWRITE), JobRunner.Listener.NONE);
            assertTrue(again.cached());
            assertEquals(expected.stream().sorted().toList(), keys(bucket, "out/"));
            String manifest = new String(get(bucket, "out/tiny-nf4/" + Manifest.FILE_NAME));
            assertTrue(manifest.contains("\"cached\" : true"), manifest);
            assertFalse(manifest.contains(S3TestServer.CREDENTIAL) || manifest.contains(S3TestServer.IDENTITY));
        }
    }

    @Test
    void aTargetPrefixIsRequiredAndAMissingBucketIsTold() {
        try (JobRunner r = runner()) {
            Path base = Fixtures.path("tiny-llama/base-bf16");
            QuantflowException noPrefix = assertThrows(QuantflowException.class,
                    () -> r.run(job(base.toString(), "s3://" + bucket(), IfExists.FAIL), JobRunner.Listener.NONE));
            assertEquals(ErrorCode.INVALID_REQUEST, noPrefix.code());
            assertEquals(Reason.LOCATION_NOT_ALLOWED, noPrefix.reason());
            QuantflowException noBucket = assertThrows(QuantflowException.class,
                    () -> r.run(job(base.toString(), "s3://no-such-bucket-qf/x", IfExists.FAIL), JobRunner.Listener.NONE));
            assertEquals(ErrorCode.INVALID_REQUEST, noBucket.code(), noBucket.getMessage());
            assertEquals(Reason.TARGET_BUCKET_NOT_FOUND, noBucket.reason(), noBucket.getMessage());
        }
    }
}
