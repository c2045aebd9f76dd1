package io.quantflow.core.target;

import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.storage.S3Settings;
import io.quantflow.core.storage.S3Storage;
import io.quantflow.core.testing.S3TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The S3 target's life cycle against S3Proxy on loopback: manifests last, overwrite, abort, resuming an interrupted publication. */
class S3TargetTest {
    static S3TestServer server;
    static S3Client admin;
    static S3Storage s3;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() throws Exception {
        server = S3TestServer.start();
        admin = server.client();
        s3 = S3Storage.open(S3Settings.from(null, null, null, null, server.environment(), 2));
    }

    @AfterAll
    static void stop() throws Exception {
        if (s3 != null) {
            s3.close();
        }
        if (admin != null) {
            admin.close();
        }
        if (server != null) {
            server.close();
        }
    }

    static String bucket() {
        return server.newBucket();
    }

    static ModelLocation.S3 at(String bucket, String prefix) {
        return (ModelLocation.S3) ModelLocation.parse("s3://" + bucket + "/" + prefix);
    }

    static List<String> keys(String bucket) {
        return admin.listObjectsV2(r -> r.bucket(bucket)).contents().stream().map(S3Object::key).sorted().toList();
    }

    static void put(String bucket, String key, String content) {
        admin.putObject(r -> r.bucket(bucket).key(key), RequestBody.fromString(content));
    }

    static String get(String bucket, String key) {
        return admin.getObjectAsBytes(r -> r.bucket(bucket).key(key)).asString(StandardCharsets.UTF_8);
    }

    Path file(String content) throws IOException {
        Path p = tmp.resolve(UUID.randomUUID().toString());
        Files.writeString(p, content);
        return p;
    }

    static byte[] json(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void theManifestsAreWrittenLastEachOnlyOnceEveryFileIsThere() throws IOException {
        String b = bucket();
        List<List<String>> seenBeforeManifest = new ArrayList<>();
        try (S3Target t = new S3Target(s3, at(b, "out/m"), IfExists.FAIL, path -> seenBeforeManifest.add(keys(b)))) {
            t.check();
            t.stage();
            t.write("model.safetensors", file("weights"));
            t.write("lora/adapter_model.safetensors", file("adapter"));
            t.writeManifest(ArtifactFiles.MANIFEST_FILE, json("{\"m\":0}"));
            t.writeManifest("lora/" + ArtifactFiles.MANIFEST_FILE, json("{\"m\":1}"));
            assertEquals(List.of("out/m/lora/adapter_model.safetensors", "out/m/model.safetensors"), keys(b), "no manifest before commit");
            t.commit();
        }
        assertEquals(List.of(List.of("out/m/lora/adapter_model.safetensors", "out/m/model.safetensors"),
                List.of("out/m/lora/adapter_model.safetensors", "out/m/model.safetensors", "out/m/quantflow-manifest.json")),
                seenBeforeManifest, "each manifest is written after every file, in the order handed over");
        assertEquals("{\"m\":1}", get(b, "out/m/lora/quantflow-manifest.json"));
        assertEquals(List.of(), admin.listMultipartUploads(r -> r.bucket(b)).uploads());
    }

    @Test
    void anAbortedOrUncommittedTargetDeletesWhatItWrote() throws IOException {
        String b = bucket();
        put(b, "elsewhere/keep.bin", "not ours");
        try (S3Target t = new S3Target(s3, at(b, "out"), IfExists.FAIL)) {
            t.stage();
            t.write("model.safetensors", file("weights"));
            t.writeManifest(ArtifactFiles.MANIFEST_FILE, json("{}"));
        }
        assertEquals(List.of("elsewhere/keep.bin"), keys(b));
    }

    @Test
    void anOccupiedPrefixIsTargetExistsAndATargetNeedsAPrefix() {
        String b = bucket();
        put(b, "taken/x.bin", "someone's");
        QuantflowException taken = assertThrows(QuantflowException.class, () -> new S3Target(s3, at(b, "taken"), IfExists.FAIL).check());
        assertEquals(ErrorCode.TARGET_EXISTS, taken.code());
        assertEquals(Reason.TARGET_NOT_EMPTY, taken.reason());
        // staged without a check: what is there was written since the request was checked
        QuantflowException meanwhile = assertThrows(QuantflowException.class, () -> new S3Target(s3, at(b, "taken"), IfExists.FAIL).stage());
        assertEquals(ErrorCode.TARGET_EXISTS, meanwhile.code());
        assertEquals(Reason.TARGET_WRITTEN_CONCURRENTLY, meanwhile.reason());
        QuantflowException noPrefix = assertThrows(QuantflowException.class,
                () -> new S3Target(s3, (ModelLocation.S3) ModelLocation.parse("s3://" + b), IfExists.FAIL).check());
        assertEquals(ErrorCode.INVALID_REQUEST, noPrefix.code());
        assertEquals(Reason.LOCATION_NOT_ALLOWED, noPrefix.reason());
        QuantflowException noBucket = assertThrows(QuantflowException.class,
                () -> new S3Target(s3, at("no-such-bucket-qf", "x"), IfExists.FAIL).check());
        assertEquals(ErrorCode.INVALID_REQUEST, noBucket.code());
        assertEquals(Reason.TARGET_BUCKET_NOT_FOUND, noBucket.reason());
        assertEquals(List.of("taken/x.bin"), keys(b));
    }

    @Test
    void overwritingWithdrawsTheOldManifestsFirstAndRemovesWhatTheNewArtifactLacks() throws IOException {
        String b = bucket();
        put(b, "out/model.safetensors", "old weights");
        put(b, "out/stale.bin", "old");
        put(b, "out/quantflow-manifest.json", "{\"old\":true}");
        try (S3Target t = new S3Target(s3, at(b, "out"), IfExists.OVERWRITE)) {
            t.check();
            List<List<String>> recorded = new ArrayList<>();
            t.stage(recorded::add);
            assertEquals(List.of(List.of("out/model.safetensors", "out/quantflow-manifest.json", "out/stale.bin")), recorded);
            assertEquals(List.of("out/model.safetensors", "out/stale.bin"), keys(b), "no old manifest beside new files");
            t.write("model.safetensors", file("new weights"));
            t.writeManifest(ArtifactFiles.MANIFEST_FILE, json("{\"new\":true}"));
            t.commit();
        }
        assertEquals(List.of("out/model.safetensors", "out/quantflow-manifest.json"), keys(b));
        assertEquals("new weights", get(b, "out/model.safetensors"));
        assertEquals("{\"new\":true}", get(b, "out/quantflow-manifest.json"));
    }

    @Test
    void aManifestAnotherWriterPutThereMeanwhileIsTargetExists() throws IOException {
        String b = bucket();
        try (S3Target t = new S3Target(s3, at(b, "out"), IfExists.FAIL)) {
            t.stage();
            t.write("model.safetensors", file("weights"));
            put(b, "out/quantflow-manifest.json", "{\"theirs\":true}");
            t.writeManifest(ArtifactFiles.MANIFEST_FILE, json("{\"ours\":true}"));
            QuantflowException theirs = assertThrows(QuantflowException.class, t::commit);
            assertEquals(ErrorCode.TARGET_EXISTS, theirs.code());
            assertEquals(Reason.TARGET_WRITTEN_CONCURRENTLY, theirs.reason());
        }
        assertEquals("{\"theirs\":true}", get(b, "out/quantflow-manifest.json"));
    }

    @Test
    void aPublicationTriedAgainAfterAnInterruptionWritesOverItsOwnFiles() throws IOException {
        String b = bucket();
        List<String> heldBefore = new ArrayList<>();
        // the first attempt: staged (what the prefix held recorded), one file and one manifest written, then killed
        S3Target first = new S3Target(s3, at(b, "out"), IfExists.FAIL);
        first.stage(heldBefore::addAll);
        first.write("a.safetensors", file("a"));
        put(b, "out/quantflow-manifest.json", "{\"interrupted\":true}");
        assertEquals(List.of(), heldBefore);

        // not someone else's: the target held nothing when the first attempt began
        try (S3Target again = new S3Target(s3, at(b, "out"), IfExists.FAIL)) {
            again.resume(heldBefore);
            assertEquals(List.of("out/a.safetensors"), keys(b), "the interrupted attempt's manifest is withdrawn at once");
            again.write("a.safetensors", file("a"));
            again.write("b.safetensors", file("b"));
            again.writeManifest(ArtifactFiles.MANIFEST_FILE, json("{\"done\":true}"));
            again.commit();
        }
        assertEquals(List.of("out/a.safetensors", "out/b.safetensors", "out/quantflow-manifest.json"), keys(b));
        assertEquals("{\"done\":true}", get(b, "out/quantflow-manifest.json"));

        // a target that held something before the first attempt began is someone else's
        S3Target other = new S3Target(s3, at(b, "out"), IfExists.FAIL);
        QuantflowException someoneElses = assertThrows(QuantflowException.class, () -> other.resume(List.of("out/x.bin")));
        assertEquals(ErrorCode.TARGET_EXISTS, someoneElses.code());
        assertEquals(Reason.TARGET_WRITTEN_CONCURRENTLY, someoneElses.reason());
    }

    @Test
    void aTargetIsMadeFromALocation() {
        String b = bucket();
        assertTrue(Targets.of(ModelLocation.parse(tmp.resolve("x").toString()), IfExists.FAIL, () -> s3) instanceof LocalTarget);
        assertTrue(Targets.of(ModelLocation.parse("s3://" + b + "/x"), IfExists.FAIL, () -> s3) instanceof S3Target);
        QuantflowException hub = assertThrows(QuantflowException.class,
                () -> Targets.of(ModelLocation.parse("hf://org/name"), IfExists.FAIL, () -> s3));
        assertEquals(ErrorCode.INVALID_REQUEST, hub.code());
        assertEquals(Reason.LOCATION_NOT_ALLOWED, hub.reason());
    }
}
