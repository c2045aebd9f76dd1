package io.quantflow.core.target;

import io.quantflow.core.convert.Manifest;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The local directory target's life cycle: staged beside the target, renamed into place, nothing left on abort. */
class LocalTargetTest {
    @TempDir
    Path tmp;

    Path file(String name, String content) throws IOException {
        Path p = tmp.resolve("in").resolve(name);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content);
        return p;
    }

    List<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void nothingIsAtTheTargetUntilCommitThenEveryFileAndTheManifests() throws IOException {
        Path dir = tmp.resolve("out/model");
        try (LocalTarget t = LocalTarget.of(dir, IfExists.FAIL)) {
            t.check();
            t.stage();
            assertTrue(t.staging().getFileName().toString().startsWith(".model.partial-"), t.staging().toString());
            assertEquals(dir.getParent(), t.staging().getParent());
            t.write("model.safetensors", file("a", "weights"));
            t.write("bnb-4bit/config.json", file("b", "{}"));
            t.writeManifest(ArtifactFiles.MANIFEST_FILE, "{\"m\":1}".getBytes(StandardCharsets.UTF_8));
            t.writeManifest("bnb-4bit/" + ArtifactFiles.MANIFEST_FILE, "{\"m\":2}".getBytes(StandardCharsets.UTF_8));
            assertFalse(Files.exists(dir));
            assertFalse(Files.exists(t.staging().resolve(ArtifactFiles.MANIFEST_FILE)), "manifests are written at commit");
            t.commit();
        }
        assertEquals(List.of("bnb-4bit/config.json", "bnb-4bit/" + ArtifactFiles.MANIFEST_FILE, "model.safetensors",
                ArtifactFiles.MANIFEST_FILE), ArtifactFiles.list(dir));
        assertEquals("weights", Files.readString(dir.resolve("model.safetensors")));
        assertEquals("{\"m\":2}", Files.readString(dir.resolve("bnb-4bit").resolve(ArtifactFiles.MANIFEST_FILE)));
        assertEquals(List.of("model"), names(dir.getParent()), "no staging directory is left");
    }

    @Test
    void anAbortedOrUncommittedTargetLeavesNothing() throws IOException {
        Path dir = tmp.resolve("out/model");
        try (LocalTarget t = LocalTarget.prepare(dir, IfExists.FAIL)) {
            t.write("model.safetensors", file("a", "weights"));
            Files.writeString(t.staging().resolve("streamed.bin"), "written in place");
            t.abort();
        }
        try (LocalTarget t = LocalTarget.prepare(dir, IfExists.FAIL)) {
            t.write("model.safetensors", file("a", "weights"));
        }
        assertEquals(List.of(), names(tmp.resolve("out")));
    }

    @Test
    void anOccupiedTargetIsTargetExistsUnlessOverwritingAndThenReplacedOnlyAtCommit() throws IOException {
        Path dir = tmp.resolve("out");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("old.bin"), "old");
        QuantflowException taken = assertThrows(QuantflowException.class, () -> LocalTarget.of(dir, IfExists.FAIL).check());
        assertEquals(ErrorCode.TARGET_EXISTS, taken.code());
        assertEquals(Reason.TARGET_NOT_EMPTY, taken.reason());
        assertEquals(Reason.TARGET_NOT_EMPTY, assertThrows(QuantflowException.class, () -> LocalTarget.prepare(dir, IfExists.FAIL)).reason());
        Path aFile = file("plain", "x");
        QuantflowException notADirectory = assertThrows(QuantflowException.class, () -> LocalTarget.check(aFile, IfExists.OVERWRITE));
        assertEquals(ErrorCode.TARGET_EXISTS, notADirectory.code());
        assertEquals(Reason.TARGET_NOT_A_DIRECTORY, notADirectory.reason());

        try (LocalTarget t = LocalTarget.prepare(dir, IfExists.OVERWRITE)) {
            t.write("new.bin", file("n", "new"));
            t.writeManifest(ArtifactFiles.MANIFEST_FILE, new byte[] {'{', '}'});
            assertEquals(List.of("old.bin"), names(dir), "the old output stays until the new one is complete");
            t.commit();
        }
        assertEquals(List.of("new.bin", ArtifactFiles.MANIFEST_FILE), names(dir));
        assertEquals(List.of("in", "out"), names(tmp), "the old output is not left aside");
    }

    @Test
    void pathsThatLeaveTheArtifactAreRefused() throws IOException {
        Path src = file("a", "x");
        try (LocalTarget t = LocalTarget.prepare(tmp.resolve("out"), IfExists.FAIL)) {
            for (String bad : List.of("../escape", "/abs", "", "a/../../b")) {
                assertThrows(IllegalArgumentException.class, () -> t.write(bad, src), bad);
            }
        }
    }

    @Test
    void aWrittenFileIsTheSameBytesWhetherLinkedOrCopied() throws IOException {
        Path src = file("a", "weights");
        Path dir = tmp.resolve("out");
        try (LocalTarget t = LocalTarget.prepare(dir, IfExists.FAIL)) {
            t.write("model.safetensors", src);
            t.commit();
        }
        assertArrayEquals(Files.readAllBytes(src), Files.readAllBytes(dir.resolve("model.safetensors")));
    }

    @Test
    void theManifestNameIsTheConvertersOne() {
        assertEquals(Manifest.FILE_NAME, ArtifactFiles.MANIFEST_FILE);
    }
}
