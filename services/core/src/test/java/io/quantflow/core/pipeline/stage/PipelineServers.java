package io.quantflow.core.pipeline.stage;

import io.quantflow.core.Fixtures;
import io.quantflow.core.storage.S3Settings;
import io.quantflow.core.storage.S3Storage;
import io.quantflow.core.testing.HubTestServer;
import io.quantflow.core.testing.S3TestServer;
import software.amazon.awssdk.services.s3.S3Client;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * What the pipeline's tests share across a class: a real S3 server (S3Proxy on loopback) with an
 * admin client and the stages' {@link S3Storage}, the stages' conversion threads, and a Hub on
 * loopback that serves {@code org/tiny} (the tiny-llama fixture) and {@code org/gated} (the same,
 * behind a token).
 */
final class PipelineServers implements AutoCloseable {
    final S3TestServer server;
    final S3Client admin;
    final S3Storage s3;
    final ExecutorService pool;
    final HubTestServer hub;
    final HubTestServer.Repo hubTiny;

    private PipelineServers(S3TestServer server) throws Exception {
        this.server = server;
        this.admin = server.client();
        this.s3 = S3Storage.open(S3Settings.fromEnvironment(server.environment(), 2));
        this.pool = Executors.newFixedThreadPool(2);
        this.hub = new HubTestServer();
        this.hubTiny = hub.addRepo("org/tiny", Fixtures.path("tiny-llama/base-bf16"));
        hub.addRepo("org/gated", Fixtures.path("tiny-llama/base-bf16")).gated("hf_secret_token_1234");
    }

    static PipelineServers start() throws Exception {
        S3TestServer server = S3TestServer.start();
        try {
            return new PipelineServers(server);
        } catch (Exception | Error e) {
            server.close();
            throw e;
        }
    }

    /** A new, empty bucket. */
    String bucket() {
        return server.newBucket();
    }

    @Override
    public void close() throws Exception {
        pool.shutdownNow();
        hub.close();
        s3.close();
        admin.close();
        server.close();
    }
}
