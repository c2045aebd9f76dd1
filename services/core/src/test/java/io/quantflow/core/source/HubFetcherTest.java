package io.quantflow.core.source;

import io.quantflow.core.Fixtures;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.synth.ModelShape;
import io.quantflow.core.synth.SyntheticCheckpoint;
import io.quantflow.core.target.IfExists;
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
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Fetching Hub models into the cache, against a Hub served on loopback. */
class HubFetcherTest {
    static final Backoff FAST = new Backoff(4, Duration.ofMillis(1), Duration.ofMillis(5));

    @TempDir
    Path tmp;
    HubTestServer hub;
    Path model;

    @BeforeEach
    void start() throws IOException {
        hub = new HubTestServer();
        model = Fixtures.path("tiny-llama/base-bf16");
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    HubFetcher fetcher(String token) {
        HubSettings s = new HubSettings(URI.create(hub.endpoint()), Secret.of(token), 4, FAST, Duration.ofSeconds(20));
        return new HubFetcher(new HubClient(s), new HubCache(tmp.resolve("cache/hub")));
    }

    static ModelLocation.Hub hf(String uri) {
        return (ModelLocation.Hub) ModelLocation.parse(uri);
    }

    @Test
    void fetchesEveryFilePinnedToTheCommitAndVerified() throws IOException {
        HubTestServer.Repo repo = hub.addRepo("tiny/llama", model);
        HubFetcher.Snapshot snap = fetcher(null).fetch(hf("hf://tiny/llama"), SourceListener.NONE);

        assertEquals(repo.commit(), snap.commit());
        Path repoDir = tmp.resolve("cache/hub/models--tiny--llama");
        assertEquals(repoDir.resolve("snapshots").resolve(repo.commit()), snap.dir());
        assertEquals(repo.commit(), Files.readString(repoDir.resolve("refs/main")));
        for (String f : List.of("config.json", "generation_config.json", "model.safetensors")) {
            assertArrayEquals(Files.readAllBytes(model.resolve(f)), Files.readAllBytes(snap.dir().resolve(f)), f);
            assertTrue(Files.isSymbolicLink(snap.dir().resolve(f)), f + " is a link into blobs/");
        }
        HubTestServer.FileEntry weights = repo.file("model.safetensors");
        assertTrue(Files.isRegularFile(repoDir.resolve("blobs").resolve(weights.sha256())));
        assertTrue(Files.isRegularFile(repoDir.resolve("blobs").resolve(repo.file("config.json").gitBlobId())));
        // every file was asked for at the pinned commit, never at "main"
        List<HubTestServer.Request> resolves = hub.requests().stream().filter(r -> r.path().contains("/resolve/")).toList();
        assertEquals(3, resolves.size(), resolves.toString());
        assertTrue(resolves.stream().allMatch(r -> r.path().contains("/resolve/" + repo.commit() + "/")), resolves.toString());
        assertEquals(List.of(), incompleteFiles());
    }

    @Test
    void aSecondFetchDownloadsNothingAndIdsMatchWithoutCase() throws IOException {
        hub.addRepo("Tiny/Llama", model);
        HubFetcher f = fetcher(null);
        HubFetcher.Snapshot first = f.fetch(hf("hf://tiny/llama"), SourceListener.NONE);
        hub.clearRequests();
        HubFetcher.Snapshot second = f.fetch(hf("hf://TINY/LLAMA@main"), SourceListener.NONE);
        assertEquals(first.dir(), second.dir());
        assertEquals(List.of(), hub.requests().stream().filter(r -> !r.path().startsWith("/api/")).toList());
    }

    @Test
    void aDownloadThatBreaksHalfwayResumesWithARangeAndVerifies() throws IOException {
        HubTestServer.Repo repo = hub.addRepo("tiny/llama", model);
        long size = Files.size(model.resolve("model.safetensors"));
        repo.breakDownload("model.safetensors", size / 2, 1);
        HubFetcher.Snapshot snap = fetcher(null).fetch(hf("hf://tiny/llama"), SourceListener.NONE);

        assertArrayEquals(Files.readAllBytes(model.resolve("model.safetensors")), Files.readAllBytes(snap.dir().resolve("model.safetensors")));
        List<HubTestServer.Request> blobGets = hub.requests().stream().filter(r -> r.server().equals("cdn")).toList();
        assertEquals(2, blobGets.size(), blobGets.toString());
        assertEquals(null, blobGets.get(0).range());
        // resumed from what had arrived: up to half (bytes the server sent before dropping the connection may be lost)
        long resumedAt = rangeStart(blobGets.get(1).range());
        assertTrue(resumedAt > 0 && resumedAt <= size / 2, blobGets.get(1).range());
        assertEquals(List.of(), incompleteFiles());
    }

    @Test
    void aDownloadThatStallsIsDroppedAndResumed() throws IOException {
        HubTestServer.Repo repo = hub.addRepo("tiny/llama", model);
        repo.stallDownload("model.safetensors", 100_000, 1);
        HubSettings s = new HubSettings(URI.create(hub.endpoint()), null, 4, FAST, Duration.ofMillis(400));
        HubFetcher.Snapshot snap = new HubFetcher(new HubClient(s), new HubCache(tmp.resolve("cache/hub")))
                .fetch(hf("hf://tiny/llama"), SourceListener.NONE);
        assertArrayEquals(Files.readAllBytes(model.resolve("model.safetensors")), Files.readAllBytes(snap.dir().resolve("model.safetensors")));
        List<String> ranges = hub.requests().stream().filter(r -> r.server().equals("cdn")).map(HubTestServer.Request::range).toList();
        assertEquals(2, ranges.size(), ranges.toString());
        assertEquals(null, ranges.get(0));
        long resumedAt = rangeStart(ranges.get(1));
        assertTrue(resumedAt > 0 && resumedAt <= 100_000, ranges.toString());
    }

    @Test
    void aServerThatIgnoresRangesMakesTheDownloadStartOver() throws IOException {
        HubTestServer.Repo repo = hub.addRepo("tiny/llama", model);
        repo.ignoreRanges().breakDownload("model.safetensors", 300_000, 1);
        HubFetcher.Snapshot snap = fetcher(null).fetch(hf("hf://tiny/llama"), SourceListener.NONE);
        assertArrayEquals(Files.readAllBytes(model.resolve("model.safetensors")), Files.readAllBytes(snap.dir().resolve("model.safetensors")));
    }

    @Test
    void aListingWithoutHashesIsCompletedFromEachFilesMetadata() throws IOException {
        HubTestServer.Repo repo = hub.addRepo("tiny/llama", model).bareListing();
        HubFetcher.Snapshot snap = fetcher(null).fetch(hf("hf://tiny/llama"), SourceListener.NONE);
        assertArrayEquals(Files.readAllBytes(model.resolve("model.safetensors")), Files.readAllBytes(snap.dir().resolve("model.safetensors")));
        assertEquals(3, hub.requests().stream().filter(r -> r.method().equals("HEAD")).count());
        assertTrue(Files.isRegularFile(tmp.resolve("cache/hub/models--tiny--llama/blobs").resolve(repo.file("model.safetensors").sha256())));
        // and the corruption is still caught with nothing but the Hub's headers to go by
        hub.addRepo("tiny/bad", model).bareListing().corrupt("model.safetensors");
        QuantflowException e = assertThrows(QuantflowException.class, () -> fetcher(null).fetch(hf("hf://tiny/bad"), SourceListener.NONE));
        assertEquals(ErrorCode.INVALID_CHECKPOINT, e.code());
        assertEquals(Reason.DOWNLOAD_CORRUPT, e.reason(), e.getMessage());
    }

    @Test
    void aPartialFileFromAnEarlierRunIsResumed() throws IOException {
        HubTestServer.Repo repo = hub.addRepo("tiny/llama", model);
        byte[] all = Files.readAllBytes(model.resolve("model.safetensors"));
        Path blobs = Files.createDirectories(tmp.resolve("cache/hub/models--tiny--llama/blobs"));
        Files.write(blobs.resolve(repo.file("model.safetensors").sha256() + ".incomplete"), Arrays.copyOf(all, 1000));
        HubFetcher.Snapshot snap = fetcher(null).fetch(hf("hf://tiny/llama"), SourceListener.NONE);
        assertArrayEquals(all, Files.readAllBytes(snap.dir().resolve("model.safetensors")));
        List<HubTestServer.Request> blobGets = hub.requests().stream().filter(r -> r.server().equals("cdn")).toList();
        assertEquals(List.of("bytes=1000-"), blobGets.stream().map(HubTestServer.Request::range).toList());
    }

    @Test
    void aCorruptedFileFailsItsSha256CheckAndLeavesNothingInTheCache() throws IOException {
        HubTestServer.Repo repo = hub.addRepo("tiny/llama", model);
        repo.corrupt("model.safetensors");
        QuantflowException e = assertThrows(QuantflowException.class,
                () -> fetcher(null).fetch(hf("hf://tiny/llama"), SourceListener.NONE));
        assertEquals(ErrorCode.INVALID_CHECKPOINT, e.code());
        assertEquals(Reason.DOWNLOAD_CORRUPT, e.reason(), e.getMessage());
        assertTrue(e.getMessage().contains("model.safetensors") && e.getMessage().contains("sha256"), e.getMessage());
        assertFalse(e.oneLine().contains("\n"));
        String sha = repo.file("model.safetensors").sha256();
        try (Stream<Path> s = Files.walk(tmp.resolve("cache"))) {
            // (empty lock files under .locks/ stay, as in the Hub's own cache: deleting them would race other processes)
            List<String> names = s.filter(p -> !p.toString().contains("/.locks/")).map(p -> p.getFileName().toString()).toList();
            assertFalse(names.stream().anyMatch(n -> n.startsWith(sha)), names.toString());
            assertFalse(names.contains("model.safetensors"), names.toString());
        }
        assertEquals(List.of(), incompleteFiles());
        // served correctly again, the same cache fetches and verifies it
        repo.repair("model.safetensors");
        HubFetcher.Snapshot snap = fetcher(null).fetch(hf("hf://tiny/llama"), SourceListener.NONE);
        assertArrayEquals(Files.readAllBytes(model.resolve("model.safetensors")), Files.readAllBytes(snap.dir().resolve("model.safetensors")));
    }

    @Test
    void aGatedModelWithoutATokenIsAccessDeniedSayingHowToGetAccess() throws IOException {
        hub.addRepo("meta/gated", model).gated("hf_secret_token_1234");
        QuantflowException e = assertThrows(QuantflowException.class,
                () -> fetcher(null).fetch(hf("hf://meta/gated"), SourceListener.NONE));
        assertEquals(ErrorCode.ACCESS_DENIED, e.code());
        assertEquals(Reason.HUB_GATED, e.reason(), e.getMessage());
        assertTrue(e.getMessage().contains("HF_TOKEN")
                && e.getMessage().contains(hub.endpoint() + "/meta/gated"), e.getMessage());

        QuantflowException wrong = assertThrows(QuantflowException.class,
                () -> fetcher("hf_wrong_token_5678").fetch(hf("hf://meta/gated"), SourceListener.NONE));
        assertEquals(ErrorCode.ACCESS_DENIED, wrong.code());
        assertEquals(Reason.HUB_GATED, wrong.reason(), wrong.getMessage());
        assertTrue(wrong.getMessage().contains("has not been granted access"), wrong.getMessage());
        assertFalse(wrong.getMessage().contains("hf_wrong_token_5678"));

        HubFetcher.Snapshot snap = fetcher("hf_secret_token_1234").fetch(hf("hf://meta/gated"), SourceListener.NONE);
        assertTrue(Files.isRegularFile(snap.dir().resolve("model.safetensors")));
    }

    @Test
    void theTokenGoesOnlyToTheHubNeverToTheStorageItRedirectsTo() throws IOException {
        hub.addRepo("org/private", model).requireToken("hf_private_abc");
        fetcher("hf_private_abc").fetch(hf("hf://org/private"), SourceListener.NONE);
        List<HubTestServer.Request> all = hub.requests();
        assertTrue(all.stream().filter(r -> r.server().equals("hub")).allMatch(HubTestServer.Request::authorized), all.toString());
        List<HubTestServer.Request> cdn = all.stream().filter(r -> r.server().equals("cdn")).toList();
        assertFalse(cdn.isEmpty());
        assertTrue(cdn.stream().noneMatch(HubTestServer.Request::authorized), cdn.toString());
    }

    @Test
    void missingReposRevisionsAndPrivateReposAreTold() throws IOException {
        hub.addRepo("org/private", model).requireToken("hf_private_abc");
        // without a token the Hub answers 401 RepoNotFound for a repo that does not exist (and for a private one)
        for (String uri : List.of("hf://org/nothing", "hf://org/private")) {
            QuantflowException e = assertThrows(QuantflowException.class, () -> fetcher(null).fetch(hf(uri), SourceListener.NONE));
            assertEquals(ErrorCode.SOURCE_NOT_FOUND, e.code(), uri);
            assertEquals(Reason.HUB_REPO_NOT_FOUND, e.reason(), uri);
            assertTrue(e.getMessage().contains("HF_TOKEN"), e.getMessage());
        }
        hub.addRepo("tiny/llama", model);
        QuantflowException rev = assertThrows(QuantflowException.class,
                () -> fetcher(null).fetch(hf("hf://tiny/llama@v9"), SourceListener.NONE));
        assertEquals(ErrorCode.SOURCE_NOT_FOUND, rev.code());
        assertEquals(Reason.HUB_REVISION_NOT_FOUND, rev.reason());
        assertTrue(rev.getMessage().contains("'v9'"), rev.getMessage());
    }

    @Test
    void theErrorCodeHeaderDecidesWhateverTheStatus() throws IOException {
        hub.addRepo("tiny/llama", model);
        record Expected(ErrorCode code, Reason reason) {
        }
        Map<HubTestServer.Failure, Expected> cases = new LinkedHashMap<>();
        cases.put(new HubTestServer.Failure(403, "RepoNotFound"), new Expected(ErrorCode.SOURCE_NOT_FOUND, Reason.HUB_REPO_NOT_FOUND));
        cases.put(new HubTestServer.Failure(401, "GatedRepo"), new Expected(ErrorCode.ACCESS_DENIED, Reason.HUB_GATED));
        cases.put(new HubTestServer.Failure(404, "EntryNotFound"), new Expected(ErrorCode.SOURCE_NOT_FOUND, Reason.HUB_FILE_NOT_FOUND));
        cases.put(new HubTestServer.Failure(404, "RevisionNotFound"), new Expected(ErrorCode.SOURCE_NOT_FOUND, Reason.HUB_REVISION_NOT_FOUND));
        cases.put(new HubTestServer.Failure(403, null), new Expected(ErrorCode.ACCESS_DENIED, Reason.HUB_UNAUTHORIZED));
        cases.put(new HubTestServer.Failure(401, null), new Expected(ErrorCode.ACCESS_DENIED, Reason.HUB_UNAUTHORIZED));
        cases.put(new HubTestServer.Failure(404, null), new Expected(ErrorCode.SOURCE_NOT_FOUND, Reason.HUB_REPO_NOT_FOUND));
        cases.put(new HubTestServer.Failure(503, null), new Expected(ErrorCode.INTERNAL, Reason.RETRIES_EXHAUSTED));
        for (Map.Entry<HubTestServer.Failure, Expected> c : cases.entrySet()) {
            hub.failAll(c.getKey());
            QuantflowException e = assertThrows(QuantflowException.class,
                    () -> fetcher(null).fetch(hf("hf://tiny/llama"), SourceListener.NONE), c.getKey().toString());
            assertEquals(c.getValue().code(), e.code(), c.getKey() + ": " + e.getMessage());
            assertEquals(c.getValue().reason(), e.reason(), c.getKey() + ": " + e.getMessage());
        }
    }

    @Test
    void serverErrorsAreRetried() throws IOException {
        hub.addRepo("tiny/llama", model);
        hub.failNext(2, new HubTestServer.Failure(503, null));
        HubFetcher.Snapshot snap = fetcher(null).fetch(hf("hf://tiny/llama"), SourceListener.NONE);
        assertTrue(Files.isRegularFile(snap.dir().resolve("model.safetensors")));
    }

    @Test
    void picklesOnlyIsRefusedBeforeAnythingIsDownloaded() {
        hub.addRepo("old/pickled", Map.of("config.json", "{}".getBytes(), "pytorch_model.bin", new byte[] {(byte) 0x80, 2}));
        QuantflowException e = assertThrows(QuantflowException.class,
                () -> fetcher(null).fetch(hf("hf://old/pickled"), SourceListener.NONE));
        assertEquals(ErrorCode.UNSUPPORTED_MODEL, e.code());
        assertEquals(Reason.PICKLE_WEIGHTS, e.reason());
        assertTrue(e.getMessage().contains("pytorch_model.bin"), e.getMessage());
        assertTrue(hub.requests().stream().noneMatch(r -> r.path().contains("/resolve/")));
    }

    @Test
    void onlyTheShardsTheIndexNamesAndTheModelsOwnFilesAreFetched() throws IOException {
        Path sharded = tmp.resolve("sharded");
        SyntheticCheckpoint.write(ModelShape.named("tiny-llama"), DType.BF16, 3, sharded, 1 << 20, IfExists.FAIL, n -> { });
        Map<String, byte[]> files = new LinkedHashMap<>();
        try (Stream<Path> s = Files.list(sharded)) {
            for (Path p : s.toList()) {
                files.put(p.getFileName().toString(), Files.readAllBytes(p));
            }
        }
        assertTrue(files.containsKey("model.safetensors.index.json"), files.keySet().toString());
        files.put("consolidated.safetensors", new byte[] {1, 2, 3});
        files.put("pytorch_model.bin", new byte[] {(byte) 0x80});
        files.put("README.md", "# model".getBytes());
        files.put("tokenizer.json", "{}".getBytes());
        files.put("tokenizer_config.json", "{}".getBytes());
        files.put("chat_template.jinja", "{{ messages }}".getBytes());
        files.put("original/params.json", "{}".getBytes());
        hub.addRepo("org/sharded", files);
        HubFetcher.Snapshot snap = fetcher(null).fetch(hf("hf://org/sharded"), SourceListener.NONE);
        List<String> got;
        try (Stream<Path> s = Files.list(snap.dir())) {
            got = s.map(p -> p.getFileName().toString()).sorted().toList();
        }
        List<String> want = new ArrayList<>(files.keySet().stream()
                .filter(n -> n.startsWith("model-") || n.endsWith(".index.json") || n.equals("config.json")
                        || n.equals("generation_config.json") || n.startsWith("tokenizer") || n.startsWith("chat_template"))
                .sorted().toList());
        assertEquals(want, got);
        assertTrue(got.stream().filter(n -> n.startsWith("model-")).count() > 1, got.toString());
    }

    @Test
    void concurrentFetchesOfOneModelShareTheCache() throws Exception {
        hub.addRepo("tiny/llama", model);
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<HubFetcher.Snapshot>> futures = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                futures.add(pool.submit(() -> fetcher(null).fetch(hf("hf://tiny/llama"), SourceListener.NONE)));
            }
            for (Future<HubFetcher.Snapshot> f : futures) {
                Path dir = f.get().dir();
                assertArrayEquals(Files.readAllBytes(model.resolve("model.safetensors")), Files.readAllBytes(dir.resolve("model.safetensors")));
            }
        } finally {
            pool.shutdownNow();
        }
        try (Stream<Path> s = Files.list(tmp.resolve("cache/hub/models--tiny--llama/blobs"))) {
            assertEquals(3, s.count());
        }
        assertEquals(List.of(), incompleteFiles());
    }

    static long rangeStart(String range) {
        assertTrue(range != null && range.matches("bytes=\\d+-"), range);
        return Long.parseLong(range.substring(6, range.length() - 1));
    }

    private List<Path> incompleteFiles() throws IOException {
        if (!Files.exists(tmp.resolve("cache"))) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(tmp.resolve("cache"))) {
            return s.filter(p -> p.getFileName().toString().endsWith(".incomplete") || p.getFileName().toString().contains(".tmp-")).toList();
        }
    }
}
