package io.quantflow.core.job;

import io.quantflow.core.Fixtures;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.source.HubSettings;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.source.VariantMap;
import io.quantflow.core.target.ArtifactFiles;
import io.quantflow.core.target.HubPublishOptions;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.testing.HfClient;
import io.quantflow.core.testing.HubTestServer;
import io.quantflow.core.transfer.Backoff;
import io.quantflow.core.transfer.Secret;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code convert --out hf://...}: JobRunner converting a Hub model and publishing it to a Hub repository. */
class HubPublishJobTest {
    static final String WRITE = "hf_jobWRITEtoken1";
    static final String READ = "hf_jobREADtoken22";

    @TempDir
    Path tmp;
    HubTestServer hub;
    final List<String> notes = Collections.synchronizedList(new ArrayList<>());
    final AtomicLong uploaded = new AtomicLong();
    final AtomicLong announced = new AtomicLong();
    final JobRunner.Listener listener = new JobRunner.Listener() {
        @Override
        public void note(String line) {
            notes.add(line);
        }

        @Override
        public void uploadStarted(String what, long bytes) {
            announced.set(bytes);
        }

        @Override
        public void uploaded(long bytes) {
            uploaded.addAndGet(bytes);
        }
    };

    @BeforeEach
    void start() throws IOException {
        hub = new HubTestServer();
        hub.addRepo("tiny/llama", Fixtures.path("tiny-llama/base-bf16"));
        hub.addRepo("tiny/lora", Fixtures.path("tiny-llama/lora-adapter"));
        hub.addToken(WRITE, "me", "write");
        hub.addToken(READ, "me", "read");
        hub.writes().multipart(64 << 10, 32 << 10);
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    JobRunner runner(String token, String cache) {
        HubSettings s = new HubSettings(URI.create(hub.endpoint()), Secret.of(token), 3,
                new Backoff(3, Duration.ofMillis(1), Duration.ofMillis(5)), Duration.ofSeconds(20));
        return new JobRunner(new JobSettings(tmp.resolve(cache), s, () -> {
            throw new AssertionError("no S3 here");
        }, VariantMap.NONE));
    }

    static ConversionJob job(ModelLocation out, List<OutputFormat> formats, boolean useCache, HubPublishOptions hubOptions) {
        return new ConversionJob(ModelLocation.parse("hf://tiny/llama"), ModelLocation.parse("hf://tiny/lora"), out,
                io.quantflow.core.convert.ConversionOptions.of(formats, QuantOptions.defaults(), null), IfExists.FAIL, 2, useCache, false,
                hubOptions);
    }

    @Test
    void convertToTheHubPublishesOneCommitThatTheRealClientDownloadsByteIdenticalToTheLocalConversion() throws IOException {
        HfClient client = HfClient.require();
        List<OutputFormat> formats = List.of(Formats.MERGED_16BIT, Formats.MERGED_4BIT, Formats.LORA);
        JobRunner.Outcome out;
        try (JobRunner r = runner(WRITE, "cache-hub")) {
            out = r.run(job(ModelLocation.parse("hf://me/tiny-merged"), formats, false, HubPublishOptions.DEFAULTS), listener);
        }
        assertNotNull(out.published());
        HubTestServer.Repo repo = hub.repo("me/tiny-merged");
        assertEquals(repo.commit(), out.published().commit());
        assertEquals(1, hub.writes().commitsMade());
        assertTrue(notes.stream().anyMatch(n -> n.contains("committed " + repo.commit())), notes.toString());
        assertTrue(announced.get() > 0);
        assertEquals(announced.get(), uploaded.get() + manifestBytes(repo), "the upload bar reaches its end");

        Path local = tmp.resolve("local");
        try (JobRunner r = runner(null, "cache-local")) {
            r.run(job(new ModelLocation.Local(local), formats, false, HubPublishOptions.DEFAULTS), listener);
        }
        Path down = tmp.resolve("down");
        HfClient.Result d = client.run(Map.of("HF_ENDPOINT", hub.endpoint(), "HF_TOKEN", WRITE), "download", "me/tiny-merged",
                down.toString());
        assertEquals(0, d.exit(), d.err());
        List<String> files = ArtifactFiles.list(local);
        assertEquals(files, ArtifactFiles.list(down).stream().filter(f -> !f.equals(".gitattributes")).toList());
        for (String f : files) {
            if (ArtifactFiles.isManifest(f)) {
                continue; // timings and the local paths differ; the same files with the same sha256 are checked below
            }
            assertArrayEquals(Files.readAllBytes(local.resolve(f)), Files.readAllBytes(down.resolve(f)), f);
        }
        for (String m : ArtifactFiles.manifests(local)) {
            var a = io.quantflow.core.convert.Manifest.read(local.resolve(m));
            var b = io.quantflow.core.convert.Manifest.read(down.resolve(m));
            assertEquals(a.files(), b.files(), m);
            assertEquals(a.format(), b.format(), m);
        }
        assertTrue(repo.ref("main").message().contains("merged-4bit/: merged-4bit of hf://tiny/llama"), repo.ref("main").message());
    }

    private static long manifestBytes(HubTestServer.Repo repo) {
        return repo.ref("main").files().values().stream().filter(e -> ArtifactFiles.isManifest(e.name())).mapToLong(e -> e.bytes().length)
                .sum();
    }

    @Test
    void aReadOnlyTokenFailsBeforeAnythingIsFetchedOrConverted() {
        try (JobRunner r = runner(READ, "cache")) {
            QuantflowException e = assertThrows(QuantflowException.class, () -> r.run(job(ModelLocation.parse("hf://me/x"),
                    List.of(Formats.MERGED_16BIT), true, HubPublishOptions.DEFAULTS), listener));
            assertEquals(ErrorCode.ACCESS_DENIED, e.code());
            assertEquals(Reason.HUB_TOKEN_CANNOT_WRITE, e.reason());
            assertTrue(e.getMessage().contains("hf://me/x") && e.getMessage().contains("write role"), e.getMessage());
            assertTrue(!e.getMessage().contains(READ));
        }
        assertEquals(List.of("/api/whoami-v2"), hub.requests().stream().map(HubTestServer.Request::path).toList());
        assertTrue(!Files.exists(tmp.resolve("cache/artifacts")) || tmp.resolve("cache/artifacts").toFile().list().length == 0);
    }
}
