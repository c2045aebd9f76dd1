package io.quantflow.core.job;

import io.quantflow.core.Fixtures;
import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.Formats;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.source.HubSettings;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.source.VariantMap;
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
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Conversions from Hub and local sources through the JobRunner: provenance, the conversion cache, variants. */
class JobRunnerTest {
    @TempDir
    Path tmp;
    HubTestServer hub;
    Path base;
    HubTestServer.Repo repo;
    final List<String> notes = Collections.synchronizedList(new ArrayList<>());
    final JobRunner.Listener listener = new JobRunner.Listener() {
        @Override
        public void note(String line) {
            notes.add(line);
        }
    };

    @BeforeEach
    void start() throws IOException {
        hub = new HubTestServer();
        base = Fixtures.path("tiny-llama/base-bf16");
        repo = hub.addRepo("tiny/llama", base);
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    JobRunner runner(VariantMap variants) {
        HubSettings s = new HubSettings(URI.create(hub.endpoint()), Secret.of(null), 4,
                new Backoff(3, Duration.ofMillis(1), Duration.ofMillis(5)), Duration.ofSeconds(20));
        return new JobRunner(new JobSettings(tmp.resolve("cache"), s, () -> {
            throw new AssertionError("no S3 here");
        }, variants));
    }

    static ConversionJob job(String source, Path out, QuantOptions q, boolean useCache) {
        return new ConversionJob(ModelLocation.parse(source), null, new ModelLocation.Local(out), List.of(Formats.BNB_4BIT),
                q, null, IfExists.FAIL, 2, useCache, false);
    }

    @Test
    void aHubModelConvertsToTheSameBytesAsTheLocalDirectoryWithItsProvenance() throws IOException {
        Path out = tmp.resolve("out");
        JobRunner.Outcome o;
        try (JobRunner r = runner(VariantMap.NONE)) {
            o = r.run(job("hf://tiny/llama", out, QuantOptions.defaults(), true), listener);
        }
        assertFalse(o.cached());
        Manifest m = Manifest.read(out.resolve(Manifest.FILE_NAME));
        assertEquals("hf://tiny/llama", m.source().uri());
        assertEquals(repo.commit(), m.source().revision());
        assertEquals("git:" + repo.commit(), m.source().contentHash());
        assertEquals(Boolean.FALSE, m.cached());
        assertNotNull(m.cacheKey());
        assertTrue(notes.stream().anyMatch(n -> n.contains("is commit " + repo.commit())), notes.toString());

        Path direct = tmp.resolve("direct");
        new Converter().convert(Converter.Request.bnb4bit(base, direct, QuantOptions.defaults(), IfExists.FAIL, 2), Converter.Listener.NONE);
        for (String f : List.of("model.safetensors", "config.json", "generation_config.json")) {
            assertArrayEquals(Files.readAllBytes(direct.resolve(f)), Files.readAllBytes(out.resolve(f)), f);
        }
    }

    @Test
    void aSecondIdenticalConversionIsServedFromTheConversionCache() throws IOException {
        try (JobRunner r = runner(VariantMap.NONE)) {
            JobRunner.Outcome first = r.run(job("hf://tiny/llama", tmp.resolve("a"), QuantOptions.defaults(), true), listener);
            assertFalse(first.cached());
            hub.clearRequests();
            JobRunner.Outcome second = r.run(job("hf://TINY/llama@main", tmp.resolve("b"), QuantOptions.defaults(), true), listener);
            assertTrue(second.cached());
            assertTrue(hub.requests().stream().noneMatch(q -> q.path().contains("/resolve/")), "nothing downloaded again");
            Manifest m = Manifest.read(tmp.resolve("b").resolve(Manifest.FILE_NAME));
            assertEquals(Boolean.TRUE, m.cached());
            assertEquals("hf://TINY/llama@main", m.source().uri());
            assertEquals(first.manifests().get(0).cacheKey(), m.cacheKey());
            assertEquals(first.manifests().get(0).files(), m.files());
            for (Manifest.FileEntry f : m.files()) {
                assertArrayEquals(Files.readAllBytes(tmp.resolve("a").resolve(f.path())), Files.readAllBytes(tmp.resolve("b").resolve(f.path())));
            }
            // --no-cache converts again; other options are another conversion
            assertFalse(r.run(job("hf://tiny/llama", tmp.resolve("c"), QuantOptions.defaults(), false), listener).cached());
            QuantOptions fp4 = new QuantOptions(QuantType.FP4, true, 64, DType.BF16, List.of());
            assertFalse(r.run(job("hf://tiny/llama", tmp.resolve("d"), fp4, true), listener).cached());
            assertTrue(r.run(job("hf://tiny/llama", tmp.resolve("e"), fp4, true), listener).cached());
        }
        assertEquals(List.of(), hidden(tmp));
    }

    @Test
    void aLocalSourceIsKeyedByItsFilesNamesSizesTimesAndHeads() throws IOException {
        Path copy = Files.createDirectories(tmp.resolve("model"));
        try (Stream<Path> s = Files.list(base)) {
            for (Path p : s.toList()) {
                Files.copy(p, copy.resolve(p.getFileName()));
            }
        }
        try (JobRunner r = runner(VariantMap.NONE)) {
            JobRunner.Outcome first = r.run(job(copy.toString(), tmp.resolve("a"), QuantOptions.defaults(), true), listener);
            assertTrue(first.manifests().get(0).source().contentHash().startsWith("stat:"));
            assertTrue(r.run(job("file://" + copy, tmp.resolve("b"), QuantOptions.defaults(), true), listener).cached());
            // another byte in a file the conversion copies: another source
            Files.writeString(copy.resolve("generation_config.json"), Files.readString(copy.resolve("generation_config.json")) + " ");
            assertFalse(r.run(job(copy.toString(), tmp.resolve("c"), QuantOptions.defaults(), true), listener).cached());
        }
    }

    @Test
    void aCacheEntryThatNoLongerMatchesItsManifestIsDiscarded() throws IOException {
        try (JobRunner r = runner(VariantMap.NONE)) {
            JobRunner.Outcome first = r.run(job("hf://tiny/llama", tmp.resolve("a"), QuantOptions.defaults(), true), listener);
            Path entry = r.cache().entry(first.manifests().get(0).cacheKey());
            Files.delete(entry.resolve("config.json"));
            Files.writeString(entry.resolve("config.json"), "{}");
            JobRunner.Outcome again = r.run(job("hf://tiny/llama", tmp.resolve("b"), QuantOptions.defaults(), true), listener);
            assertFalse(again.cached());
            assertTrue(r.run(job("hf://tiny/llama", tmp.resolve("c"), QuantOptions.defaults(), true), listener).cached());
        }
    }

    @Test
    void aMappedModelIsAnsweredWithItsPrequantizedVariantSayingSo() throws IOException {
        Path variantDir = Fixtures.path("tiny-llama/base-bnb-nf4-dq");
        HubTestServer.Repo variant = hub.addRepo("tiny/llama-bnb-4bit", variantDir);
        Path file = tmp.resolve("variants.txt");
        Files.writeString(file, "# operator's variants\nTiny/Llama -> tiny/llama-bnb-4bit\n");
        Path out = tmp.resolve("out");
        try (JobRunner r = runner(VariantMap.read(file))) {
            JobRunner.Outcome o = r.run(job("hf://tiny/llama", out, QuantOptions.defaults(), true), listener);
            assertNotNull(o.variant());
            assertEquals("hf://tiny/llama", o.variant().requested());
            assertEquals("hf://tiny/llama-bnb-4bit@" + variant.commit(), o.variant().used());
            assertTrue(notes.stream().anyMatch(n -> n.contains("using the pre-quantized variant")), notes.toString());
            assertArrayEquals(Files.readAllBytes(variantDir.resolve("model.safetensors")), Files.readAllBytes(out.resolve("model.safetensors")));
            Manifest m = Manifest.read(out.resolve(Manifest.FILE_NAME));
            assertEquals(o.variant(), m.variant());
            assertEquals("nf4", m.options().quantType());
            assertTrue(m.options().doubleQuant());
            assertEquals(14, m.output().quantizedTensors());
            assertTrue(hub.requests().stream().noneMatch(q -> q.path().startsWith("/tiny/llama/resolve/")), "the model asked for is not fetched");

            notes.clear();
            JobRunner.Outcome exact = r.run(new ConversionJob(ModelLocation.parse("hf://tiny/llama"), null,
                    new ModelLocation.Local(tmp.resolve("exact")), List.of(Formats.BNB_4BIT), QuantOptions.defaults(), null,
                    IfExists.FAIL, 2, true, true), listener);
            assertNull(exact.variant());
            assertTrue(notes.stream().anyMatch(n -> n.contains("--exact-model-name")), notes.toString());

            notes.clear();
            QuantOptions fp4 = new QuantOptions(QuantType.FP4, true, 64, DType.BF16, List.of());
            JobRunner.Outcome other = r.run(job("hf://tiny/llama", tmp.resolve("fp4"), fp4, true), listener);
            assertNull(other.variant());
            assertTrue(notes.stream().anyMatch(n -> n.contains("not using the pre-quantized variant") && n.contains("nf4")), notes.toString());
        }
    }

    @Test
    void anAdapterFromTheHubMergesLikeTheLocalOne() throws IOException {
        Path adapter = Fixtures.path("tiny-llama/lora-adapter");
        hub.addRepo("tiny/lora", adapter);
        Path out = tmp.resolve("merged");
        try (JobRunner r = runner(VariantMap.NONE)) {
            r.run(new ConversionJob(ModelLocation.parse("hf://tiny/llama"), ModelLocation.parse("hf://tiny/lora"),
                    new ModelLocation.Local(out), List.of(Formats.MERGED_16BIT), QuantOptions.defaults(), null,
                    IfExists.FAIL, 2, true, false), listener);
        }
        Path direct = tmp.resolve("direct");
        new Converter().convert(new Converter.Request(base, adapter, direct, List.of(Formats.MERGED_16BIT), QuantOptions.defaults(),
                null, IfExists.FAIL, 2), Converter.Listener.NONE);
        assertArrayEquals(Files.readAllBytes(direct.resolve("model.safetensors")), Files.readAllBytes(out.resolve("model.safetensors")));
        Manifest m = Manifest.read(out.resolve(Manifest.FILE_NAME));
        assertEquals("hf://tiny/lora", m.adapter().uri());
        assertTrue(m.adapter().contentHash().startsWith("git:"));
    }

    @Test
    void badTargetsAndRequestsFailBeforeAnythingIsFetched() throws IOException {
        Path taken = Files.createDirectories(tmp.resolve("taken"));
        Files.writeString(taken.resolve("keep"), "x");
        try (JobRunner r = runner(VariantMap.NONE)) {
            QuantflowException exists = assertThrows(QuantflowException.class,
                    () -> r.run(job("hf://tiny/llama", taken, QuantOptions.defaults(), true), listener));
            assertEquals(ErrorCode.TARGET_EXISTS, exists.code());
            assertEquals(Reason.TARGET_NOT_EMPTY, exists.reason());
            QuantflowException hubTarget = assertThrows(QuantflowException.class, () -> r.run(new ConversionJob(
                    ModelLocation.parse("hf://tiny/llama"), null, ModelLocation.parse("hf://me/out"), List.of(Formats.BNB_4BIT),
                    QuantOptions.defaults(), null, IfExists.FAIL, 2, true, false), listener));
            // the Hub is a target now: without a token it is refused before anything is fetched
            assertEquals(ErrorCode.ACCESS_DENIED, hubTarget.code());
            assertEquals(Reason.HUB_TOKEN_MISSING, hubTarget.reason());
            QuantflowException noAdapter = assertThrows(QuantflowException.class, () -> r.run(new ConversionJob(
                    ModelLocation.parse("hf://tiny/llama"), null, new ModelLocation.Local(tmp.resolve("m")),
                    List.of(Formats.MERGED_16BIT), QuantOptions.defaults(), null, IfExists.FAIL, 2, true, false), listener));
            assertEquals(ErrorCode.INVALID_REQUEST, noAdapter.code());
            assertEquals(Reason.FORMAT_NEEDS_ADAPTER, noAdapter.reason());
        }
        assertEquals(List.of(), hub.requests());
    }

    static List<String> hidden(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList();
        }
    }
}
