package io.quantflow.edge;

import io.quantflow.core.pipeline.stage.WorkStore;
import io.quantflow.core.storage.S3Settings;
import io.quantflow.core.storage.S3Storage;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

import java.nio.file.Path;

/**
 * The object store and the conversion threads. S3 is configured the AWS way (AWS_ENDPOINT_URL_S3,
 * AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), so any S3 endpoint works: MinIO, S3Proxy, AWS.
 */
public class Storage {

    @Produces
    @Singleton
    S3Storage s3() {
        return S3Storage.open(S3Settings.fromEnvironment(System.getenv(), 4));
    }

    void close(@Disposes S3Storage s3) {
        s3.close();
    }

    @Produces
    @Singleton
    WorkStore workStore(S3Storage s3, EdgeConfig config) {
        return new WorkStore(s3, config.bucket(), Path.of(config.dir()));
    }

    @Produces
    @Singleton
    ConversionThreads conversionThreads(EdgeConfig config) {
        return ConversionThreads.start(config.threads());
    }

    void shutdown(@Disposes ConversionThreads threads) {
        threads.pool().shutdownNow();
    }
}
