package io.quantflow.core.target;

import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.testing.HfClient;
import io.quantflow.core.testing.HubTestServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Holds the loopback Hub to the real protocol: the real {@code huggingface_hub} client (pinned, without
 * hf_xet, from .venv-hf) uploads to it and downloads from it, and downloads what {@link HubTarget} published.
 */
class HubClientCompatibilityTest {
    @TempDir
    Path tmp;
    HubTestServer hub;
    HfClient client;
    Map<String, String> env;

    @BeforeEach
    void start() throws IOException {
        client = HfClient.require();
        hub = new HubTestServer();
        hub.addToken(HubTargetTest.WRITE, "me", "write");
        hub.writes().multipart(1 << 20, 256 << 10);
        env = Map.of("HF_ENDPOINT", hub.endpoint(), "HF_TOKEN", HubTargetTest.WRITE);
    }

    @AfterEach
    void stop() {
        if (hub != null) {
            hub.close();
        }
    }

    static void assertSameTree(Path expected, Path actual) throws IOException {
        List<String> files = ArtifactFiles.list(expected);
        for (String f : files) {
            assertTrue(Files.isRegularFile(actual.resolve(f)), f + " was not downloaded");
            assertArrayEquals(Files.readAllBytes(expected.resolve(f)), Files.readAllBytes(actual.resolve(f)), f);
        }
        assertEquals(files, ArtifactFiles.list(actual).stream().filter(f -> !f.equals(".gitattributes")).toList());
    }

    @Test
    void theRealClientUploadsAFolderAndDownloadsItBackByteIdentical() throws IOException {
        Path dir = HubTargetTest.artifact(tmp.resolve("up"), 11);
        byte[] binary = new byte[70_001];
        new Random(5).nextBytes(binary);
        binary[3] = 0;
        Files.write(dir.resolve("bnb-4bit/tokenizer.model"), binary);
        HfClient.Result up = client.run(env, "upload", "me/real", dir.toString());
        assertEquals(0, up.exit(), up.err());
        HubTestServer.Repo repo = hub.repo("me/real");
        assertEquals(repo.commit(), up.lastLine());
        HubTargetTest.assertSameFiles(dir, repo, "main");
        assertTrue(hub.requests().stream().anyMatch(q -> q.path().equals("/api/complete_multipart")), "the client went multipart");
        assertTrue(repo.file("bnb-4bit/tokenizer.model").lfs(), "a binary sample goes through LFS");

        Path down = tmp.resolve("down");
        HfClient.Result r = client.run(env, "download", "me/real", down.toString());
        assertEquals(0, r.exit(), r.err());
        assertEquals(repo.commit(), r.lastLine());
        assertSameTree(dir, down);

        // the same folder again: the client finds every object held and commits nothing new to LFS storage
        int puts = hub.writes().storedPuts();
        HfClient.Result again = client.run(env, "upload", "me/real", dir.toString());
        assertEquals(0, again.exit(), again.err());
        assertEquals(puts, hub.writes().storedPuts());
    }

    @Test
    void whatQuantflowPublishesTheRealClientDownloadsByteIdentical() throws IOException {
        Path dir = HubTargetTest.artifact(tmp.resolve("a"), 12);
        try (HubTarget t = new HubTarget(new HubTargetTest().settingsFor(hub, HubTargetTest.WRITE),
                (ModelLocation.Hub) ModelLocation.parse("hf://me/published@dev"), IfExists.FAIL, HubPublishOptions.DEFAULTS,
                UploadListener.NONE)) {
            t.check();
            t.stage();
            Targets.publish(t, dir, Map.of(), 2);
            Path down = tmp.resolve("down");
            HfClient.Result r = client.run(env, "download", "me/published", down.toString(), "dev");
            assertEquals(0, r.exit(), r.err());
            assertEquals(t.published().commit(), r.lastLine());
            assertSameTree(dir, down);
        }
    }
}
