package io.quantflow.cli;

import io.quantflow.core.testing.HubTestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** quantflow convert --out hf://...: publishing to a Hub on loopback, and each refusal as one line with its code. */
class HubTargetCliTest {
    static final String WRITE = "hf_cliWRITEtoken77";
    static final String READ = "hf_cliREADtoken888";
    static HubTestServer hub;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() throws Exception {
        hub = new HubTestServer();
        hub.addRepo("tiny/llama", CliTest.fixture("tiny-llama/base-bf16"));
        hub.addToken(WRITE, "me", "write");
        hub.addToken(READ, "me", "read");
    }

    @AfterAll
    static void stop() {
        if (hub != null) {
            hub.close();
        }
    }

    Map<String, String> env(String token) {
        Map<String, String> env = new HashMap<>();
        env.put("QUANTFLOW_CACHE", tmp.resolve("cache").toString());
        env.put("HOME", tmp.toString());
        env.put("HF_ENDPOINT", hub.endpoint());
        if (token != null) {
            env.put("HF_TOKEN", token);
        }
        return env;
    }

    static void assertOneLine(SourcesCliTest.Run r, String code, String token) {
        assertNotEquals(0, r.exit());
        assertEquals("", r.out());
        String[] lines = r.err().strip().split("\n");
        assertEquals(1, lines.length, r.err());
        assertTrue(lines[0].startsWith("error: " + code + ": "), r.err());
        if (token != null) {
            assertFalse(r.err().contains(token), "the token is never printed");
        }
    }

    @Test
    void convertPublishesToTheHubAndSaysWhichCommit() {
        SourcesCliTest.Run r = SourcesCliTest.run(env(WRITE), "convert", "hf://tiny/llama", "--out", "hf://me/tiny-bnb-4bit", "--private");
        assertEquals(0, r.exit(), r.err());
        HubTestServer.Repo repo = hub.repo("me/tiny-bnb-4bit");
        assertTrue(repo.isPrivate());
        assertTrue(r.out().contains("published: hf://me/tiny-bnb-4bit@main commit " + repo.commit()), r.out());
        assertTrue(r.err().contains("uploading"), r.err());
        assertFalse(r.err().contains(WRITE) || r.out().contains(WRITE));

        SourcesCliTest.Run again = SourcesCliTest.run(env(WRITE), "convert", "hf://tiny/llama", "--out", "hf://me/tiny-bnb-4bit");
        assertOneLine(again, "TARGET_EXISTS", WRITE);
        assertTrue(again.err().contains("--if-exists overwrite"), again.err());

        SourcesCliTest.Run pr = SourcesCliTest.run(env(WRITE), "convert", "hf://tiny/llama", "--out", "hf://me/tiny-bnb-4bit",
                "--if-exists", "overwrite", "--create-pr");
        assertEquals(0, pr.exit(), pr.err());
        assertTrue(pr.out().contains("pull request " + hub.endpoint() + "/me/tiny-bnb-4bit/discussions/1"), pr.out());
    }

    @Test
    void eachRefusalIsOneLineWithItsCodeBeforeAnythingIsConverted() {
        assertOneLine(SourcesCliTest.run(env(null), "convert", "hf://tiny/llama", "--out", "hf://me/x"), "ACCESS_DENIED", null);
        SourcesCliTest.Run read = SourcesCliTest.run(env(READ), "convert", "hf://tiny/llama", "--out", "hf://me/x");
        assertOneLine(read, "ACCESS_DENIED", READ);
        assertTrue(read.err().contains("hf://me/x") && read.err().contains("write role"), read.err());
        assertOneLine(SourcesCliTest.run(env(WRITE), "convert", "hf://tiny/llama", "--out", "hf://me/bad--name"), "INVALID_REQUEST", WRITE);
        assertNull(hub.repo("me/x"));
        assertFalse(Files.exists(tmp.resolve("cache/hub/models--tiny--llama")), "nothing was fetched");
        SourcesCliTest.Run local = SourcesCliTest.run(env(WRITE), "convert", "hf://tiny/llama", "--out", tmp.resolve("o").toString(),
                "--create-pr");
        assertNotEquals(0, local.exit());
        assertTrue(local.err().contains("--create-pr applies to an hf:// target only"), local.err());
    }
}
