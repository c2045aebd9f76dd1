package io.quantflow.core.storage;

import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.S3Exception;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Multipart uploads, the one loop for every way a part is sent (bytes from this process, or a range
 * copied inside the store): create, send each part, complete; whatever fails, the upload is aborted
 * so that the key is left as it was and no part stays stored. Uploads of this process still open
 * when the JVM exits are aborted by a shutdown hook; uploads left open by a process that was killed
 * are found and aborted by prefix.
 */
final class Multipart implements AutoCloseable {
    private final S3Client s3;
    /** upload id to bucket and key, while this process's upload is open */
    private final Map<String, String[]> open = new ConcurrentHashMap<>();
    private final Thread abortOnExit = new Thread(this::abortOpen, "quantflow-s3-abort");

    /** Sends part {@code number} (from 1): bytes {@code [offset, offset + length)}; returns the part's ETag. */
    interface PartSender {
        String send(String uploadId, int number, long offset, long length);
    }

    Multipart(S3Client s3) {
        this.s3 = s3;
        Runtime.getRuntime().addShutdownHook(abortOnExit);
    }

    /**
     * Writes {@code size} bytes to {@code key} in parts of {@code partSize} bytes, each sent by
     * {@code sender}. Any failure aborts the upload and is rethrown as it is (an SdkException from the
     * store, or whatever the sender threw).
     *
     * @param create adds to the create request (a content type, say)
     */
    void upload(String bucket, String key, long size, long partSize, Consumer<CreateMultipartUploadRequest.Builder> create,
                PartSender sender) {
        String uploadId = s3.createMultipartUpload(b -> create.accept(b.bucket(bucket).key(key))).uploadId();
        open.put(uploadId, new String[] {bucket, key});
        try {
            List<CompletedPart> parts = new ArrayList<>();
            int number = 1;
            for (long offset = 0; offset < size; offset += partSize, number++) {
                String etag = sender.send(uploadId, number, offset, Math.min(partSize, size - offset));
                parts.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
            }
            s3.completeMultipartUpload(b -> b.bucket(bucket).key(key).uploadId(uploadId).multipartUpload(u -> u.parts(parts)));
            open.remove(uploadId);
        } catch (RuntimeException | Error e) {
            abort(bucket, key, uploadId);
            throw e;
        }
    }

    /** The keys under {@code prefix} with a multipart upload begun and neither completed nor aborted, by anyone. */
    List<String> listOpen(String bucket, String prefix) {
        List<String> keys = new ArrayList<>();
        for (MultipartUpload u : s3.listMultipartUploads(b -> b.bucket(bucket).prefix(prefix)).uploads()) {
            keys.add(u.key());
        }
        return keys;
    }

    /**
     * Aborts the multipart uploads under {@code prefix} whose key {@code key} accepts, begun by anyone
     * (a process killed in the middle of an upload leaves it open, and its parts stored, until someone
     * aborts it); returns how many were aborted.
     */
    int abortOpen(String bucket, String prefix, Predicate<String> key) {
        List<MultipartUpload> uploads = new ArrayList<>();
        s3.listMultipartUploadsPaginator(b -> b.bucket(bucket).prefix(prefix)).uploads().forEach(uploads::add);
        int n = 0;
        for (MultipartUpload u : uploads) {
            if (key.test(u.key())) {
                try {
                    s3.abortMultipartUpload(b -> b.bucket(bucket).key(u.key()).uploadId(u.uploadId()));
                    n++;
                } catch (S3Exception e) {
                    if (e.statusCode() != 404) { // 404: completed or aborted meanwhile
                        throw e;
                    }
                }
            }
        }
        return n;
    }

    /** Aborts one upload of this process, trying three times; a store that cannot be reached leaves it to its lifecycle rules. */
    private void abort(String bucket, String key, String uploadId) {
        for (int attempt = 1; attempt <= 3; attempt++) {
            try {
                s3.abortMultipartUpload(b -> b.bucket(bucket).key(key).uploadId(uploadId));
                open.remove(uploadId);
                return;
            } catch (S3Exception e) {
                if (e.statusCode() == 404) {
                    open.remove(uploadId);
                    return;
                }
            } catch (SdkException e) {
                // tried again below
            }
        }
    }

    private void abortOpen() {
        open.forEach((id, bk) -> abort(bk[0], bk[1], id));
    }

    /** Aborts this process's open uploads; the client itself is closed by its owner. */
    @Override
    public void close() {
        abortOpen();
        try {
            Runtime.getRuntime().removeShutdownHook(abortOnExit);
        } catch (IllegalStateException e) {
            // already shutting down: the hook runs
        }
    }
}
