package io.quantflow.core.pipeline.stage;

import io.quantflow.core.Fixtures;
import io.quantflow.core.contract.Schemas;
import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.pipeline.events.Answers;
import io.quantflow.core.pipeline.events.CloudEvent;
import io.quantflow.core.pipeline.events.Json;
import io.quantflow.core.pipeline.events.Stage;
import io.quantflow.core.pipeline.events.Topics;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.testing.HubTestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static io.quantflow.core.pipeline.stage.PipelineStack.output;
import static io.quantflow.core.pipeline.stage.PipelineStack.request;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pipeline's publisher writing to an hf:// target: one commit with what convert writes, upload progress, refusals. */
class PipelineHubTargetTest {
    static final String WRITE = "hf_pipelineWRITE01";
    static final String READ = "hf_pipelineREAD002";
    static PipelineServers servers;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() throws Exception {
        servers = PipelineServers.start();
        servers.hub.addToken(WRITE, "me", "write");
        servers.hub.addToken(READ, "me", "read");
        servers.hub.writes().multipart(64 << 10, 32 << 10);
        servers.hub.addRepo("org/tiny-lora", Fixtures.path("tiny-llama/lora-adapter"));
    }

    @AfterAll
    static void stop() throws Exception {
        if (servers != null) {
            servers.close();
        }
    }

    @Test
    void aRequestToTheHubIsOneCommitOfWhatConvertWrites() throws IOException {
        PipelineStack pipeline = new PipelineStack(servers, tmp, WRITE);
        int commits = servers.hub.writes().commitsMade();
        pipeline.bus.publish(Topics.REQUESTED, "hub1", request("hub1", "hf://org/tiny@main", null,
                List.of(output("bnb-4bit")), "hf://me/tiny-bnb-4bit", "fail"));
        pipeline.bus.drain();
        Answers.Completed c = pipeline.completed("hub1");
        assertNotNull(c.commit());
        HubTestServer.Repo repo = servers.hub.repo("me/tiny-bnb-4bit");
        assertEquals(repo.commit(), c.commit().commit());
        assertEquals("main", c.commit().branch());
        assertEquals(commits + 1, servers.hub.writes().commitsMade());
        assertEquals("hf://me/tiny-bnb-4bit", c.outputs().get(0).uri());
        Schemas.assertValid("conversion-completed", pipeline.bus.on(Topics.COMPLETED, "hub1").get(0).toJson());

        Path local = tmp.resolve("local");
        new Converter().convert(Converter.Request.bnb4bit(Fixtures.path("tiny-llama/base-bf16"), local, QuantOptions.defaults(),
                IfExists.FAIL, 1), Converter.Listener.NONE);
        Map<String, byte[]> expected = new TreeMap<>();
        for (Path p : Files.list(local).filter(Files::isRegularFile).toList()) {
            if (!p.getFileName().toString().equals(Manifest.FILE_NAME)) {
                expected.put(p.getFileName().toString(), Files.readAllBytes(p));
            }
        }
        for (Map.Entry<String, byte[]> e : expected.entrySet()) {
            assertNotNull(repo.file(e.getKey()), e.getKey());
            assertArrayEquals(e.getValue(), repo.file(e.getKey()).bytes(), e.getKey());
        }
        byte[] manifest = repo.file(Manifest.FILE_NAME).bytes();
        Schemas.assertValid("manifest", new String(manifest, StandardCharsets.UTF_8));
        assertEquals(c.outputs().get(0).manifest(), Json.read(manifest, Manifest.class));
        assertTrue(repo.ref("main").message().contains("Quantflow-Request: hub1"), repo.ref("main").message());

        List<Answers.Progress> upload = pipeline.bus.on(Topics.PROGRESS, "hub1").stream().map(e -> e.data(Answers.Progress.class))
                .filter(p -> p.stage() == Stage.PUBLISH && p.shard() == null).toList();
        assertTrue(upload.size() >= 2, upload.toString());
        Answers.Progress last = upload.get(upload.size() - 1);
        assertEquals(last.bytesTotal(), last.bytesDone());
        assertTrue(last.bytesTotal() >= expected.get("model.safetensors").length);
    }

    @Test
    void aReadTokenIsAccessDeniedAtFetchAndSeveralFormatsGoAsFolders() throws IOException {
        PipelineStack readOnly = new PipelineStack(servers, tmp.resolve("r"), READ);
        readOnly.bus.publish(Topics.REQUESTED, "hub2", request("hub2", "hf://org/tiny@main", null, List.of(output("bnb-4bit")),
                "hf://me/nope", "fail"));
        readOnly.bus.drain();
        Answers.Failed f = readOnly.failed("hub2");
        assertEquals(ErrorCode.ACCESS_DENIED.name(), f.code());
        assertTrue(f.message().contains("hf://me/nope") && !f.message().contains(READ), f.message());
        assertEquals(null, servers.hub.repo("me/nope"));

        PipelineStack pipeline = new PipelineStack(servers, tmp.resolve("w"), WRITE);
        pipeline.bus.publish(Topics.REQUESTED, "hub3", request("hub3", "hf://org/tiny@main", "hf://org/tiny-lora@main",
                List.of(output("merged-16bit"), output("lora")), "hf://me/tiny-two", "fail"));
        pipeline.bus.drain();
        Answers.Completed c = pipeline.completed("hub3");
        HubTestServer.Repo repo = servers.hub.repo("me/tiny-two");
        assertEquals(repo.commit(), c.commit().commit());
        assertNotNull(repo.file("merged-16bit/" + Manifest.FILE_NAME));
        assertNotNull(repo.file("merged-16bit/model.safetensors"));
        assertNotNull(repo.file("lora/" + Manifest.FILE_NAME));
        assertNotNull(repo.file("lora/adapter_model.safetensors"));
        CloudEvent done = pipeline.bus.on(Topics.COMPLETED, "hub3").get(0);
        Schemas.assertValid("conversion-completed", done.toJson());
        assertEquals("hf://me/tiny-two/merged-16bit", c.outputs().get(0).uri());
    }
}
