package io.quantflow.core.source;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import software.amazon.awssdk.auth.credentials.AnonymousCredentialsProvider;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.credentials.ProfileCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.core.sync.ResponseTransformer;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.profiles.ProfileFile;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CommonPrefix;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.Delete;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.ListMultipartUploadsResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.model.UploadPartResponse;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The S3 operations quantflow needs, over the AWS SDK: list a prefix, read an object from an
 * offset, upload a file as a multipart upload (each part with its Content-MD5; any failure aborts
 * the upload, so no orphan parts are left), delete objects. Failures become quantflow's error
 * codes with messages that never hold a credential. Uploads still open when the JVM exits are
 * aborted by a shutdown hook.
 */
public final class S3Storage implements AutoCloseable {
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");

    private final S3Settings settings;
    private final S3Client s3;
    private final Map<String, String[]> openUploads = new ConcurrentHashMap<>();
    private final Thread abortOnExit = new Thread(this::abortOpenUploads, "quantflow-s3-abort");

    /** An object: its key, size and ETag (without quotes). */
    public record ObjectInfo(String key, long size, String etag) {
    }

    /** The bytes to upload, from any offset (a part may be sent again). */
    public interface Content {
        long size();

        InputStream open(long offset, long length) throws IOException;

        static Content of(Path file) throws IOException {
            long size = Files.size(file);
            return new Content() {
                @Override
                public long size() {
                    return size;
                }

                @Override
                public InputStream open(long offset, long length) throws IOException {
                    FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
                    ch.position(offset);
                    return new BoundedInputStream(Channels.newInputStream(ch), length);
                }
            };
        }
    }

    private S3Storage(S3Settings settings, S3Client s3) {
        this.settings = settings;
        this.s3 = s3;
        Runtime.getRuntime().addShutdownHook(abortOnExit);
    }

    public static S3Storage open(S3Settings settings) {
        var builder = S3Client.builder()
                .httpClient(UrlConnectionHttpClient.builder()
                        .connectionTimeout(Duration.ofSeconds(30))
                        .socketTimeout(settings.stallTimeout())
                        .build())
                .region(Region.of(settings.region()))
                .credentialsProvider(provider(settings.credentials()))
                .forcePathStyle(settings.pathStyle())
                // S3-compatible stores do not all take the SDK's newer checksum trailers; integrity is
                // checked here instead (Content-MD5 on each part, sizes and sha256 on each download).
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
        if (settings.endpoint() != null) {
            builder.endpointOverride(settings.endpoint());
        }
        try {
            return new S3Storage(settings, builder.build());
        } catch (SdkException e) {
            throw QuantflowException.of(Reason.SETTINGS_INVALID, "cannot set up the S3 client: " + ResumableDownload.describe(e));
        }
    }

    private static AwsCredentialsProvider provider(S3Credentials c) {
        return switch (c) {
            case S3Credentials.Keys k -> StaticCredentialsProvider.create(k.sessionToken() == null
                    ? AwsBasicCredentials.create(k.accessKeyId().reveal(), k.secretAccessKey().reveal())
                    : AwsSessionCredentials.create(k.accessKeyId().reveal(), k.secretAccessKey().reveal(), k.sessionToken().reveal()));
            case S3Credentials.Profile p -> {
                ProfileCredentialsProvider provider = ProfileCredentialsProvider.builder()
                        .profileFile(ProfileFile.builder().content(p.file()).type(ProfileFile.Type.CREDENTIALS).build())
                        .profileName(p.name())
                        .build();
                try {
                    provider.resolveCredentials();
                } catch (SdkException e) {
                    throw QuantflowException.of(Reason.CREDENTIALS_INVALID, "the AWS profile '" + p.name() + "' in " + p.file()
                            + " has no usable credentials");
                }
                yield provider;
            }
            case S3Credentials.Anonymous a -> AnonymousCredentialsProvider.create();
        };
    }

    public S3Settings settings() {
        return settings;
    }

    /** The objects whose keys start with {@code prefix}; with {@code topOnly}, not those in deeper "folders". */
    public List<ObjectInfo> list(String bucket, String prefix, boolean topOnly) {
        List<ObjectInfo> out = new ArrayList<>();
        String token = null;
        try {
            do {
                ListObjectsV2Request.Builder b = ListObjectsV2Request.builder().bucket(bucket).prefix(prefix).continuationToken(token);
                if (topOnly) {
                    b.delimiter("/");
                }
                ListObjectsV2Response r = s3.listObjectsV2(b.build());
                for (S3Object o : r.contents()) {
                    out.add(new ObjectInfo(o.key(), o.size(), HubClient.unquote(o.eTag())));
                }
                token = Boolean.TRUE.equals(r.isTruncated()) ? r.nextContinuationToken() : null;
            } while (token != null);
        } catch (SdkException e) {
            throw failure(e, "s3://" + bucket + "/" + prefix, true);
        }
        return out;
    }

    /** Whether no object key starts with {@code prefix}. */
    public boolean isEmpty(String bucket, String prefix, boolean asTarget) {
        try {
            ListObjectsV2Response r = s3.listObjectsV2(b -> b.bucket(bucket).prefix(prefix).maxKeys(1));
            return r.contents().isEmpty();
        } catch (SdkException e) {
            throw failure(e, "s3://" + bucket + "/" + prefix, !asTarget);
        }
    }

    /** Whether any key under the prefix has "folders" below it (used only to explain an empty listing). */
    public boolean hasSubfolders(String bucket, String prefix) {
        try {
            List<CommonPrefix> p = s3.listObjectsV2(b -> b.bucket(bucket).prefix(prefix).delimiter("/").maxKeys(1)).commonPrefixes();
            return !p.isEmpty();
        } catch (SdkException e) {
            throw failure(e, "s3://" + bucket + "/" + prefix, true);
        }
    }

    /**
     * An object's bytes from {@code offset} (a ranged GET), only while its ETag is still {@code etag}.
     * Network failures and 5xx are IOExceptions, to be retried.
     */
    ResumableDownload.Opened open(String bucket, String key, String etag, long offset) throws IOException {
        try {
            var response = s3.getObject(b -> {
                b.bucket(bucket).key(key);
                if (etag != null) {
                    b.ifMatch("\"" + etag + "\"");
                }
                if (offset > 0) {
                    b.range("bytes=" + offset + "-");
                }
            }, ResponseTransformer.toInputStream());
            GetObjectResponse meta = response.response();
            long start = 0;
            if (meta.contentRange() != null) {
                Matcher m = CONTENT_RANGE.matcher(meta.contentRange());
                if (!m.matches()) {
                    response.abort();
                    throw new IOException("an S3 answer with an invalid Content-Range");
                }
                start = Long.parseLong(m.group(1));
            }
            return new ResumableDownload.Opened(response, start);
        } catch (S3Exception e) {
            if (e.statusCode() == 416) {
                return new ResumableDownload.Opened(InputStream.nullInputStream(), offset);
            }
            if (e.statusCode() == 412) {
                throw QuantflowException.of(Reason.SOURCE_CHANGED, "s3://" + bucket + "/" + key + " changed while it was being downloaded");
            }
            if (e.statusCode() >= 500 || e.statusCode() == 429) {
                throw new IOException("S3 answered HTTP " + e.statusCode(), e);
            }
            throw failure(e, "s3://" + bucket + "/" + key, true);
        } catch (SdkClientException e) {
            throw new IOException(ResumableDownload.describe(e), e);
        }
    }

    /** Uploads a file to {@code key}. */
    public void upload(String bucket, String key, Path file) {
        try {
            upload(bucket, key, Content.of(file));
        } catch (IOException e) {
            throw QuantflowException.of(Reason.IO_ERROR, "cannot read " + file + ": " + ResumableDownload.describe(e), e);
        }
    }

    /**
     * Uploads content to {@code key} as one multipart upload, parts of {@link S3Settings#partSize()}
     * bytes each with its Content-MD5. Whatever fails, the upload is aborted: the key is left as it
     * was and no part stays stored.
     */
    public void upload(String bucket, String key, Content content) {
        String where = "s3://" + bucket + "/" + key;
        long size = content.size();
        if (size == 0) {
            try {
                s3.putObject(b -> b.bucket(bucket).key(key).contentMD5(md5(new byte[0])), RequestBody.empty());
                return;
            } catch (SdkException e) {
                throw failure(e, where, false);
            }
        }
        String uploadId;
        try {
            uploadId = s3.createMultipartUpload(b -> b.bucket(bucket).key(key).contentType("application/octet-stream")).uploadId();
        } catch (SdkException e) {
            throw failure(e, where, false);
        }
        openUploads.put(uploadId, new String[] {bucket, key});
        try {
            List<CompletedPart> parts = new ArrayList<>();
            long partSize = settings.partSize();
            int number = 1;
            for (long offset = 0; offset < size; offset += partSize, number++) {
                long length = Math.min(partSize, size - offset);
                String md5 = md5(content, offset, length);
                long off = offset;
                int n = number;
                ContentStreamProvider body = () -> {
                    try {
                        return content.open(off, length);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                };
                UploadPartResponse r = s3.uploadPart(b -> b.bucket(bucket).key(key).uploadId(uploadId).partNumber(n)
                        .contentLength(length).contentMD5(md5), RequestBody.fromContentProvider(body, length, "application/octet-stream"));
                parts.add(CompletedPart.builder().partNumber(n).eTag(r.eTag()).build());
            }
            s3.completeMultipartUpload(b -> b.bucket(bucket).key(key).uploadId(uploadId).multipartUpload(u -> u.parts(parts)));
            openUploads.remove(uploadId);
        } catch (RuntimeException | Error e) {
            abort(bucket, key, uploadId);
            if (e instanceof SdkException s) {
                throw failure(s, where, false);
            }
            if (e instanceof UncheckedIOException u) {
                throw QuantflowException.of(Reason.IO_ERROR, "reading what to upload to " + where + " failed: "
                        + ResumableDownload.describe(u.getCause()), u);
            }
            throw e;
        }
    }

    /** An object's size and ETag, or null when there is no such key. */
    public ObjectInfo head(String bucket, String key) {
        try {
            var r = s3.headObject(b -> b.bucket(bucket).key(key));
            return new ObjectInfo(key, r.contentLength(), HubClient.unquote(r.eTag()));
        } catch (NoSuchKeyException e) {
            return null;
        } catch (S3Exception e) {
            if (e.statusCode() == 404 && !(e.awsErrorDetails() != null && "NoSuchBucket".equals(e.awsErrorDetails().errorCode()))) {
                return null;
            }
            throw failure(e, "s3://" + bucket + "/" + key, true);
        } catch (SdkException e) {
            throw failure(e, "s3://" + bucket + "/" + key, true);
        }
    }

    /** A small object's bytes (a manifest, a plan, a marker), or null when there is no such key. */
    public byte[] readSmall(String bucket, String key) {
        try {
            return s3.getObjectAsBytes(b -> b.bucket(bucket).key(key)).asByteArray();
        } catch (NoSuchKeyException e) {
            return null;
        } catch (SdkException e) {
            throw failure(e, "s3://" + bucket + "/" + key, true);
        }
    }

    /** {@code length} bytes of an object from {@code offset} (a ranged GET): a safetensors header, say. */
    public byte[] readRange(String bucket, String key, long offset, int length) {
        if (length == 0) {
            return new byte[0];
        }
        try {
            return s3.getObjectAsBytes(b -> b.bucket(bucket).key(key).range("bytes=" + offset + "-" + (offset + length - 1)))
                    .asByteArray();
        } catch (SdkException e) {
            throw failure(e, "s3://" + bucket + "/" + key, true);
        }
    }

    /**
     * Downloads an object into {@code file} in a streamed, resumable ranged GET (never in memory),
     * checking its size and that it does not change meanwhile; returns the sha256 of its bytes.
     */
    public String download(String bucket, String key, Path file) {
        ObjectInfo o = head(bucket, key);
        String what = "s3://" + bucket + "/" + key;
        if (o == null) {
            throw QuantflowException.of(Reason.S3_OBJECT_NOT_FOUND, what + ": not found");
        }
        try {
            Files.deleteIfExists(file);
            ResumableDownload download = new ResumableDownload(settings.backoff(), settings.stallTimeout(), () -> false);
            return download.fetch(file, o.size(), offset -> open(bucket, key, o.etag(), offset), what, n -> {
            });
        } catch (IOException e) {
            throw QuantflowException.of(Reason.IO_ERROR, "cannot write " + file + ": " + ResumableDownload.describe(e), e);
        }
    }

    /** Writes a small object in one PUT. */
    public void put(String bucket, String key, byte[] body) {
        try {
            s3.putObject(b -> b.bucket(bucket).key(key).contentMD5(md5(body)).contentType(contentType(key)), RequestBody.fromBytes(body));
        } catch (SdkException e) {
            throw failure(e, "s3://" + bucket + "/" + key, false);
        }
    }

    /**
     * Writes a small object only if the key holds none ({@code If-None-Match: *}); returns false when
     * one was there. A store that does not implement conditional writes (HTTP 501) gets a check
     * followed by a plain write instead, which two racing writers can both pass. When the SDK retried
     * the write (an attempt whose answer was lost) and the retry found the key taken, the object there
     * is read back: if it holds exactly {@code body}, the lost attempt wrote it and this is true.
     */
    public boolean putIfAbsent(String bucket, String key, byte[] body) {
        String where = "s3://" + bucket + "/" + key;
        try {
            s3.putObject(b -> b.bucket(bucket).key(key).ifNoneMatch("*").contentMD5(md5(body)).contentType(contentType(key)),
                    RequestBody.fromBytes(body));
            return true;
        } catch (S3Exception e) {
            if (e.statusCode() == 412 && e.numAttempts() > 1) {
                // the SDK sent the PUT again after an attempt whose answer it did not get: that attempt
                // may have written the object, and then this 412 is about our own write
                return Arrays.equals(readSmall(bucket, key), body);
            }
            if (e.statusCode() == 412 || e.statusCode() == 409) {
                return false;
            }
            if (e.statusCode() == 501 || e.statusCode() == 400 && e.awsErrorDetails() != null
                    && "NotImplemented".equals(e.awsErrorDetails().errorCode())) {
                if (head(bucket, key) != null) {
                    return false;
                }
                put(bucket, key, body);
                return true;
            }
            throw failure(e, where, false);
        } catch (SdkException e) {
            throw failure(e, where, false);
        }
    }

    /**
     * Copies an object inside the store (no bytes through this process): one CopyObject up to 5 GiB,
     * a multipart copy of ranged parts above (aborted if any part fails).
     */
    public void copy(String fromBucket, String fromKey, String toBucket, String toKey, long size) {
        String where = "s3://" + toBucket + "/" + toKey;
        long single = 5L << 30;
        if (size < single) {
            try {
                s3.copyObject(b -> b.sourceBucket(fromBucket).sourceKey(fromKey).destinationBucket(toBucket).destinationKey(toKey));
                return;
            } catch (SdkException e) {
                throw failure(e, where, false);
            }
        }
        String uploadId;
        try {
            uploadId = s3.createMultipartUpload(b -> b.bucket(toBucket).key(toKey)).uploadId();
        } catch (SdkException e) {
            throw failure(e, where, false);
        }
        openUploads.put(uploadId, new String[] {toBucket, toKey});
        try {
            List<CompletedPart> parts = new ArrayList<>();
            long partSize = Math.max(settings.partSize(), 512L << 20);
            int number = 1;
            for (long offset = 0; offset < size; offset += partSize, number++) {
                String range = "bytes=" + offset + "-" + (Math.min(size, offset + partSize) - 1);
                int n = number;
                var r = s3.uploadPartCopy(b -> b.sourceBucket(fromBucket).sourceKey(fromKey).copySourceRange(range)
                        .destinationBucket(toBucket).destinationKey(toKey).uploadId(uploadId).partNumber(n));
                parts.add(CompletedPart.builder().partNumber(n).eTag(r.copyPartResult().eTag()).build());
            }
            s3.completeMultipartUpload(b -> b.bucket(toBucket).key(toKey).uploadId(uploadId).multipartUpload(u -> u.parts(parts)));
            openUploads.remove(uploadId);
        } catch (RuntimeException e) {
            abort(toBucket, toKey, uploadId);
            if (e instanceof SdkException s) {
                throw failure(s, where, false);
            }
            throw e;
        }
    }

    private static String contentType(String key) {
        return key.endsWith(".json") ? "application/json" : key.endsWith(".md") ? "text/markdown" : "application/octet-stream";
    }

    /** Deletes objects (missing ones are no error). */
    public void delete(String bucket, Collection<String> keys) {
        List<String> all = List.copyOf(keys);
        for (int i = 0; i < all.size(); i += 1000) {
            List<ObjectIdentifier> ids = all.subList(i, Math.min(all.size(), i + 1000)).stream()
                    .map(k -> ObjectIdentifier.builder().key(k).build()).toList();
            try {
                var r = s3.deleteObjects(b -> b.bucket(bucket).delete(Delete.builder().objects(ids).quiet(true).build()));
                if (r.hasErrors() && !r.errors().isEmpty()) {
                    throw QuantflowException.of(Reason.S3_ERROR, "S3 did not delete s3://" + bucket + "/" + r.errors().get(0).key()
                            + " (" + r.errors().get(0).code() + ")");
                }
            } catch (SdkException e) {
                throw failure(e, "s3://" + bucket, false);
            }
        }
    }

    /** The keys under {@code prefix} with a multipart upload begun and neither completed nor aborted. */
    public List<String> openUploads(String bucket, String prefix) {
        try {
            List<String> keys = new ArrayList<>();
            ListMultipartUploadsResponse r = s3.listMultipartUploads(b -> b.bucket(bucket).prefix(prefix));
            for (MultipartUpload u : r.uploads()) {
                keys.add(u.key());
            }
            return keys;
        } catch (SdkException e) {
            throw failure(e, "s3://" + bucket + "/" + prefix, false);
        }
    }

    /**
     * Aborts the multipart uploads under {@code prefix} whose key {@code key} accepts, begun by
     * anyone (a process killed in the middle of an upload leaves its upload open, and its parts
     * stored, until someone aborts it); returns how many were aborted.
     */
    public int abortUploads(String bucket, String prefix, Predicate<String> key) {
        try {
            List<MultipartUpload> open = new ArrayList<>();
            s3.listMultipartUploadsPaginator(b -> b.bucket(bucket).prefix(prefix)).uploads().forEach(open::add);
            int n = 0;
            for (MultipartUpload u : open) {
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
        } catch (SdkException e) {
            throw failure(e, "s3://" + bucket + "/" + prefix, false);
        }
    }

    private void abort(String bucket, String key, String uploadId) {
        for (int attempt = 1; attempt <= 3; attempt++) {
            try {
                s3.abortMultipartUpload(b -> b.bucket(bucket).key(key).uploadId(uploadId));
                openUploads.remove(uploadId);
                return;
            } catch (S3Exception e) {
                if (e.statusCode() == 404) {
                    openUploads.remove(uploadId);
                    return;
                }
            } catch (SdkException e) {
                // tried again below
            }
        }
    }

    private void abortOpenUploads() {
        openUploads.forEach((id, bk) -> abort(bk[0], bk[1], id));
    }

    @Override
    public void close() {
        abortOpenUploads();
        try {
            Runtime.getRuntime().removeShutdownHook(abortOnExit);
        } catch (IllegalStateException e) {
            // already shutting down: the hook runs
        }
        s3.close();
    }

    /**
     * An S3 failure as quantflow's error. {@code asSource}: a missing bucket or key is the source
     * not being there; for a target, a missing bucket is a request that cannot be carried out.
     */
    QuantflowException failure(SdkException e, String where, boolean asSource) {
        if (e instanceof S3Exception s) {
            int status = s.statusCode();
            String code = s.awsErrorDetails() == null ? null : s.awsErrorDetails().errorCode();
            String detail = " (HTTP " + status + (code == null ? "" : " " + code) + ")";
            if (status == 403 || status == 401 || "InvalidAccessKeyId".equals(code) || "SignatureDoesNotMatch".equals(code)) {
                return QuantflowException.of(Reason.S3_ACCESS_DENIED, where + ": access denied" + detail
                        + "; check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS profile", e);
            }
            if ("NoSuchBucket".equals(code)) {
                return QuantflowException.of(asSource ? Reason.S3_BUCKET_NOT_FOUND : Reason.TARGET_BUCKET_NOT_FOUND,
                        where + ": the bucket does not exist" + detail, e);
            }
            if (status == 404) {
                return QuantflowException.of(asSource ? Reason.S3_OBJECT_NOT_FOUND : Reason.STORE_OBJECT_MISSING, where + ": not found" + detail, e);
            }
            return QuantflowException.of(Reason.S3_ERROR, where + ": S3 answered" + detail, e);
        }
        return QuantflowException.of(Reason.S3_UNREACHABLE, where + ": cannot reach S3"
                + (settings.endpoint() == null ? "" : " at " + settings.endpoint()) + " (" + ResumableDownload.describe(e) + ")", e);
    }

    private static String md5(Content content, long offset, long length) {
        MessageDigest md = md5();
        try (InputStream in = content.open(offset, length)) {
            byte[] buf = new byte[1 << 16];
            int r;
            while ((r = in.read(buf)) > 0) {
                md.update(buf, 0, r);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Base64.getEncoder().encodeToString(md.digest());
    }

    private static String md5(byte[] bytes) {
        return Base64.getEncoder().encodeToString(md5().digest(bytes));
    }

    private static MessageDigest md5() {
        try {
            return MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** At most {@code limit} bytes of a stream. */
    private static final class BoundedInputStream extends InputStream {
        private final InputStream in;
        private long left;

        BoundedInputStream(InputStream in, long limit) {
            this.in = in;
            this.left = limit;
        }

        @Override
        public int read() throws IOException {
            if (left <= 0) {
                return -1;
            }
            int b = in.read();
            if (b >= 0) {
                left--;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (left <= 0) {
                return -1;
            }
            int r = in.read(b, off, (int) Math.min(len, left));
            if (r > 0) {
                left -= r;
            }
            return r;
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }
}
