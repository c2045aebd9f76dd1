package io.quantflow.core.source;

import io.quantflow.core.Fixtures;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.storage.S3Storage;
import io.quantflow.core.testing.S3TestServer;
import io.quantflow.core.util.Digests;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The S3 source: a model under a prefix fetched into the local blob cache, against S3Proxy on loopback. */
class S3FetcherTest {
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

    static S3Storage storage() {
        return S3Storage.open(server.quickSettings());
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
                // kept once, by content, in the blob cache's layout
                assertTrue(Files.isRegularFile(tmp.resolve("cache/s3/blobs").resolve(Digests.sha256(model.resolve(n)))), n);
            }
            List<ContentHash.FileDigest> digests = new ArrayList<>();
            for (String n : names) {
                digests.add(new ContentHash.FileDigest(n, Files.size(model.resolve(n)), Digests.sha256(model.resolve(n))));
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

    static void putDirectory(String bucket, String prefix, Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                admin.putObject(r -> r.bucket(bucket).key(prefix + "/" + p.getFileName()), RequestBody.fromFile(p));
            }
        }
    }
}
