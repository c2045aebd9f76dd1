package io.quantflow.core.storage;

import software.amazon.awssdk.services.s3.S3Client;

/**
 * quantflow's S3 client, over the AWS SDK (ADR 7), one per process and shared by every use: the
 * sources read through it, the targets published through it and the pipeline's work bucket. Each
 * use names the bucket and the {@link Role} it plays ({@link #bucket}), which decides what a failure
 * means to the user; the operations are on {@link S3Bucket}. Closing it aborts the multipart uploads
 * of this process still open (a shutdown hook does the same when the JVM exits).
 */
public final class S3Storage implements AutoCloseable {
    private final S3Settings settings;
    private final S3Client s3;
    private final Multipart multipart;
    private final S3Failures failures;

    private S3Storage(S3Settings settings, S3Client s3) {
        this.settings = settings;
        this.s3 = s3;
        this.multipart = new Multipart(s3);
        this.failures = new S3Failures(settings.endpoint());
    }

    public static S3Storage open(S3Settings settings) {
        return new S3Storage(settings, S3Clients.build(settings));
    }

    public S3Settings settings() {
        return settings;
    }

    /** The objects of {@code bucket}, which plays {@code role} for the caller. */
    public S3Bucket bucket(Role role, String bucket) {
        return new S3Bucket(this, role, bucket);
    }

    S3Client client() {
        return s3;
    }

    Multipart multipart() {
        return multipart;
    }

    S3Failures failures() {
        return failures;
    }

    @Override
    public void close() {
        multipart.close();
        s3.close();
    }
}
