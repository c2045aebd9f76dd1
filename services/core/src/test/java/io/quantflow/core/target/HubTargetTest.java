package io.quantflow.core.target;

import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.source.HubSettings;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.testing.HubTestServer;
import io.quantflow.core.transfer.Backoff;
import io.quantflow.core.transfer.Secret;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link HubTarget} against the loopback Hub: the write protocol, the refusals, retries, resuming and exactly-once commits. */
class HubTargetTest {
    static final String WRITE = "hf_writeTOKENabc123";
    static final String READ = "hf_readTOKENxyz789";

    @TempDir
    Path tmp;
    HubTestServer hub;

    @BeforeEach
    void start() throws IOException {
        hub = new HubTestServer();
        hub.addToken(WRITE, "me", "write", "team");
        hub.addToken(READ, "me", "read");
        hub.writes().multipart(1 << 20, 256 << 10);
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    HubSettings settings(String token) {
        return settingsFor(hub, token);
    }

    HubSettings settingsFor(HubTestServer server, String token) {
        return new HubSettings(URI.create(server.endpoint()), Secret.of(token), 3, new Backoff(3, Duration.ofMillis(1), Duration.ofMillis(5)),
                Duration.ofSeconds(20));
    }

    HubTarget target(String uri, String token, IfExists ifExists, HubPublishOptions options) {
        return new HubTarget(settings(token), (ModelLocation.Hub) ModelLocation.parse(uri), ifExists, options, UploadListener.NONE);
    }

    /** An artifact of two formats: weights of awkward sizes (one multipart), configs and a manifest per folder. */
    static Path artifact(Path dir, long seed) throws IOException {
        Random r = new Random(seed);
        for (String f : List.of("bnb-4bit", "merged-16bit")) {
            Path d = Files.createDirectories(dir.resolve(f));
            byte[] w = new byte[f.equals("bnb-4bit") ? (1 << 20) + 12_345 : 300_001];
            r.nextBytes(w);
            Files.write(d.resolve("model.safetensors"), w);
            Files.writeString(d.resolve("config.json"), "{\"model_type\": \"llama\", \"seed\": " + seed + "}\n");
            Files.writeString(d.resolve(ArtifactFiles.MANIFEST_FILE), "{\"manifestVersion\": \"1\", \"format\": \"" + f
                    + "\", \"source\": {\"uri\": \"hf://tiny/llama\", \"revision\": \"abc\"}, \"options\": {\"quantType\": \"nf4\","
                    + " \"blocksize\": 64}, \"output\": {\"bytes\": " + w.length + "}}\n");
        }
        Files.writeString(dir.resolve("README.md"), "# a model card\n");
        return dir;
    }

    HubTarget.Published publish(HubTarget t, Path dir) {
        try (t) {
            t.check();
            t.stage();
            Targets.publish(t, dir, Map.of(), 3);
            return t.published();
        }
    }

    static void assertSameFiles(Path expected, HubTestServer.Repo repo, String ref) throws IOException {
        HubTestServer.Snapshot s = repo.ref(ref);
        for (String f : ArtifactFiles.list(expected)) {
            HubTestServer.FileEntry e = s.files().get(f);
            assertNotNull(e, f + " is not in the commit");
            assertArrayEquals(Files.readAllBytes(expected.resolve(f)), e.bytes(), f);
        }
    }

    @Test
    void publishesEveryFileInOneCommitWithTheManifestsAndADescription() throws IOException {
        Path dir = artifact(tmp.resolve("a"), 1);
        HubTarget.Published p = publish(target("hf://me/model", WRITE, IfExists.FAIL, HubPublishOptions.DEFAULTS), dir);
        HubTestServer.Repo repo = hub.repo("me/model");
        assertNotNull(repo, "the repository was created");
        assertFalse(repo.isPrivate());
        assertEquals(repo.commit(), p.commit());
        assertEquals("me/model", p.repo());
        assertEquals("main", p.branch());
        assertFalse(p.reused());
        assertEquals(1, hub.writes().commitsMade());
        assertSameFiles(dir, repo, "main");
        assertTrue(repo.file(".gitattributes") != null, "the repository's own files stay");
        HubTestServer.Snapshot head = repo.ref("main");
        assertTrue(head.title().contains("bnb-4bit") && head.title().contains("hf://tiny/llama"), head.title());
        assertTrue(head.message().contains("bnb-4bit/: bnb-4bit of hf://tiny/llama at abc (quantType=nf4, blocksize=64)"), head.message());
        assertTrue(head.files().get("bnb-4bit/model.safetensors").lfs(), "weights go through LFS");
        assertFalse(head.files().get("README.md").lfs(), "small text files are regular");
        // the large weights went multipart: several parts, then a completion
        long parts = hub.requests().stream().filter(q -> q.server().equals("storage") && q.path().matches("/upload/[^/]+/\\d+")).count();
        assertEquals(5, parts, "1 MiB + 12345 bytes in parts of 256 KiB");
        assertTrue(hub.requests().stream().anyMatch(q -> q.path().equals("/api/complete_multipart")));
        // the token goes to the Hub, never to the storage
        assertTrue(hub.requests().stream().filter(q -> q.server().equals("storage")).noneMatch(HubTestServer.Request::authorized));
    }

    @Test
    void aMissingOrReadOnlyTokenOrAnotherNamespaceIsAccessDeniedBeforeAnythingIsWritten() throws IOException {
        QuantflowException none = assertThrows(QuantflowException.class, () -> target("hf://me/model", null, IfExists.FAIL,
                HubPublishOptions.DEFAULTS).check());
        assertEquals(ErrorCode.ACCESS_DENIED, none.code());
        assertEquals(Reason.HUB_TOKEN_MISSING, none.reason());
        assertTrue(none.getMessage().contains("hf://me/model") && none.getMessage().contains("HF_TOKEN"), none.getMessage());

        QuantflowException read = assertThrows(QuantflowException.class, () -> target("hf://me/model", READ, IfExists.FAIL,
                HubPublishOptions.DEFAULTS).check());
        assertEquals(ErrorCode.ACCESS_DENIED, read.code());
        assertEquals(Reason.HUB_TOKEN_CANNOT_WRITE, read.reason());
        assertTrue(read.getMessage().contains("hf://me/model") && read.getMessage().contains("read token")
                && read.getMessage().contains("write role"), read.getMessage());
        assertFalse(read.getMessage().contains(READ), "the token is never in a message");

        QuantflowException other = assertThrows(QuantflowException.class, () -> target("hf://someone-else/model", WRITE, IfExists.FAIL,
                HubPublishOptions.DEFAULTS).check());
        assertEquals(Reason.HUB_TOKEN_CANNOT_WRITE, other.reason());
        assertTrue(other.getMessage().contains("'me'") && other.getMessage().contains("someone-else"), other.getMessage());

        QuantflowException invalid = assertThrows(QuantflowException.class, () -> target("hf://bad", "x", IfExists.FAIL,
                HubPublishOptions.DEFAULTS).check());
        assertEquals(Reason.HUB_UNAUTHORIZED, invalid.reason());

        QuantflowException badId = assertThrows(QuantflowException.class, () -> ModelLocation.parse("hf://me/bad--name"));
        assertEquals(ErrorCode.INVALID_REQUEST, badId.code());
        QuantflowException commit = assertThrows(QuantflowException.class, () -> target("hf://me/model@" + "a".repeat(40), WRITE,
                IfExists.FAIL, HubPublishOptions.DEFAULTS));
        assertEquals(ErrorCode.INVALID_REQUEST, commit.code());

        assertNull(hub.repo("me/model"));
        assertTrue(hub.requests().stream().allMatch(q -> q.path().equals("/api/whoami-v2")), hub.requests().toString());
    }

    @Test
    void aRepoWithWeightsIsTargetExistsUnlessOverwriteThenOneCommitReplacesItAndRemovesStaleFiles() throws IOException {
        Path first = artifact(tmp.resolve("a"), 1);
        Files.writeString(first.resolve("merged-16bit/stale.txt"), "only in the first\n");
        HubTarget.Published p1 = publish(target("hf://team/model", WRITE, IfExists.FAIL, HubPublishOptions.DEFAULTS), first);
        Path second = artifact(tmp.resolve("b"), 2);
        QuantflowException exists = assertThrows(QuantflowException.class,
                () -> target("hf://team/model", WRITE, IfExists.FAIL, HubPublishOptions.DEFAULTS).check());
        assertEquals(ErrorCode.TARGET_EXISTS, exists.code());
        assertTrue(exists.getMessage().contains("--if-exists overwrite"), exists.getMessage());
        assertEquals(1, hub.writes().commitsMade());

        HubTarget.Published p2 = publish(target("hf://team/model", WRITE, IfExists.OVERWRITE, HubPublishOptions.DEFAULTS), second);
        assertNotEquals(p1.commit(), p2.commit());
        assertEquals(2, hub.writes().commitsMade());
        HubTestServer.Repo repo = hub.repo("team/model");
        assertSameFiles(second, repo, "main");
        assertNull(repo.file("merged-16bit/stale.txt"), "the stale file is deleted in the same commit");
        assertEquals(p1.commit(), repo.ref("main").parent());
    }

    @Test
    void aPublishKilledAfterSomePartsResumesWithoutUploadingFinishedObjectsAndMakesOneCommit() throws IOException {
        Path dir = artifact(tmp.resolve("a"), 3);
        Path big2 = dir.resolve("merged-16bit/model-2.safetensors");
        byte[] w = new byte[(1 << 20) + 777];
        new Random(9).nextBytes(w);
        Files.write(big2, w);
        // one object finishes, the other dies after some parts (the storage goes away for good)
        hub.writes().breakStorageAfter(7);
        HubTarget first = new HubTarget(settings(WRITE), (ModelLocation.Hub) ModelLocation.parse("hf://me/resume"), IfExists.FAIL,
                HubPublishOptions.DEFAULTS.withPartsAtOnce(3), UploadListener.NONE);
        QuantflowException killed = assertThrows(QuantflowException.class, () -> {
            first.check();
            first.stage();
            Targets.publish(first, dir, Map.of(), 1);
        });
        assertEquals(Reason.RETRIES_EXHAUSTED, killed.reason());
        assertEquals(0, hub.writes().commitsMade());
        String sha1 = io.quantflow.core.util.Digests.sha256(dir.resolve("bnb-4bit/model.safetensors"));
        String sha2 = io.quantflow.core.util.Digests.sha256(big2);
        String sha3 = io.quantflow.core.util.Digests.sha256(dir.resolve("merged-16bit/model.safetensors"));
        held = new java.util.HashSet<>();
        for (String sha : List.of(sha1, sha2, sha3)) {
            if (hub.writes().holds(sha)) {
                held.add(sha);
            }
        }
        int heldBefore = held.size();
        assertTrue(heldBefore >= 1 && heldBefore < 3, "some objects finished, not all: " + heldBefore);

        hub.writes().repairStorage();
        hub.clearRequests();
        int putsBefore = hub.writes().storedPuts();
        HubTarget again = target("hf://me/resume", WRITE, IfExists.FAIL, HubPublishOptions.DEFAULTS);
        HubTarget.Published p = publish(again, dir);
        assertEquals(1, hub.writes().commitsMade(), "one commit");
        assertEquals(heldBefore, again.objectsHeld(), "the batch API answered without actions for the finished objects");
        assertEquals(3 - heldBefore, again.objectsUploaded());
        int expectedPuts = 0;
        for (Path f : List.of(dir.resolve("bnb-4bit/model.safetensors"), big2, dir.resolve("merged-16bit/model.safetensors"))) {
            long size = Files.size(f);
            if (!List.of(sha1, sha2, sha3).isEmpty() && !heldAfterFirst(f, sha1, sha2, sha3, dir, big2)) {
                expectedPuts += size >= 1 << 20 ? (int) ((size + (256 << 10) - 1) / (256 << 10)) : 1;
            }
        }
        assertEquals(expectedPuts, hub.writes().storedPuts() - putsBefore, "only the unfinished objects are sent again");
        assertSameFiles(dir, hub.repo("me/resume"), "main");
        assertEquals(hub.repo("me/resume").commit(), p.commit());
    }

    java.util.Set<String> held;

    private boolean heldAfterFirst(Path f, String sha1, String sha2, String sha3, Path dir, Path big2) throws IOException {
        return held.contains(io.quantflow.core.util.Digests.sha256(f));
    }

    @Test
    void rateLimitsAndServerErrorsAreRetriedWithBackoff() throws IOException {
        Path dir = artifact(tmp.resolve("a"), 4);
        hub.failNext(2, new HubTestServer.Failure(429, null));
        hub.writes().failStorage(2, 500);
        HubTarget.Published p = publish(target("hf://me/retry", WRITE, IfExists.FAIL, HubPublishOptions.DEFAULTS.withPartsAtOnce(4)), dir);
        assertEquals(hub.repo("me/retry").commit(), p.commit());
        assertSameFiles(dir, hub.repo("me/retry"), "main");
    }

    @Test
    void aCommitWhoseAnswerWasLostIsFoundNotMadeTwice() throws IOException {
        Path dir = artifact(tmp.resolve("a"), 5);
        hub.writes().loseCommitAnswers(1);
        HubTarget.Published p = publish(target("hf://me/lost", WRITE, IfExists.FAIL, HubPublishOptions.DEFAULTS), dir);
        assertEquals(1, hub.writes().commitsMade());
        assertTrue(p.reused());
        assertEquals(hub.repo("me/lost").commit(), p.commit());
    }

    @Test
    void aRedeliveredRequestWhoseCommitLandedAnswersWithThatCommit() throws IOException {
        Path dir = artifact(tmp.resolve("a"), 6);
        HubPublishOptions req = HubPublishOptions.DEFAULTS.withRequestKey("req-42");
        HubTarget.Published p1 = publish(target("hf://me/redeliver", WRITE, IfExists.FAIL, req), dir);
        int storage = hub.writes().storedPuts();
        HubTarget.Published p2 = publish(target("hf://me/redeliver", WRITE, IfExists.FAIL, req), dir);
        assertEquals(p1.commit(), p2.commit());
        assertTrue(p2.reused());
        assertEquals(1, hub.writes().commitsMade());
        assertEquals(storage, hub.writes().storedPuts(), "nothing uploaded again");
        // another request is refused: the repo holds weights now
        QuantflowException other = assertThrows(QuantflowException.class, () -> target("hf://me/redeliver", WRITE, IfExists.FAIL,
                HubPublishOptions.DEFAULTS.withRequestKey("req-43")).check());
        assertEquals(ErrorCode.TARGET_EXISTS, other.code());
    }

    @Test
    void createPrCommitsToAPullRequestAndPrivateCreatesAPrivateRepoOnABranch() throws IOException {
        Path dir = artifact(tmp.resolve("a"), 7);
        HubTarget.Published p = publish(target("hf://me/pr@dev", WRITE, IfExists.FAIL, new HubPublishOptions(true, true, null)), dir);
        HubTestServer.Repo repo = hub.repo("me/pr");
        assertTrue(repo.isPrivate());
        assertNotNull(p.pullRequestUrl());
        assertTrue(p.pullRequestUrl().endsWith("/me/pr/discussions/1"), p.pullRequestUrl());
        assertSameFiles(dir, repo, "refs/pr/1");
        assertNull(repo.ref("dev").files().get("README.md"), "the branch itself is unchanged");
        assertEquals("dev", p.branch());
    }

    @Test
    void uploadProgressCountsEveryByteOnce() throws IOException {
        Path dir = artifact(tmp.resolve("a"), 8);
        hub.writes().failStorage(1, 503);
        AtomicLong sent = new AtomicLong();
        HubTarget t = new HubTarget(settings(WRITE), (ModelLocation.Hub) ModelLocation.parse("hf://me/progress"), IfExists.FAIL,
                HubPublishOptions.DEFAULTS, new UploadListener() {
                    @Override
                    public void uploaded(long bytes) {
                        sent.addAndGet(bytes);
                    }
                });
        publish(t, dir);
        long total = 0;
        for (String f : ArtifactFiles.list(dir)) {
            if (!ArtifactFiles.isManifest(f)) {
                total += Files.size(dir.resolve(f));
            }
        }
        assertEquals(total, sent.get());
        assertFalse(new String(Files.readAllBytes(dir.resolve("README.md")), StandardCharsets.UTF_8).isEmpty());
    }
}
