package io.quantflow.core.storage;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.transfer.ETags;
import io.quantflow.core.transfer.ResumableDownload;
import io.quantflow.core.util.Digests;
import io.quantflow.core.util.Exceptions;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.core.sync.ResponseTransformer;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.Delete;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The operations quantflow does on the objects of one bucket, which plays one {@link Role} for the
 * caller: list, read (small objects, ranges, resumable downloads pinned to an ETag), write (small
 * objects, conditional writes, multipart uploads with each part's Content-MD5, copies inside the
 * store) and delete. Failures are quantflow's error codes, read by the role.
 */
public final class S3Bucket {
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
    /** The largest object one CopyObject may copy; larger ones are copied in ranged parts. */
    private static final long SINGLE_COPY = 5L << 30;
    private static final long MIN_COPY_PART = 512L << 20;

    private final S3Storage storage;
    private final S3Client s3;
    private final Role role;
    private final String name;

    S3Bucket(S3Storage storage, Role role, String name) {
        this.storage = storage;
        this.s3 = storage.client();
        this.role = role;
        this.name = name;
    }

    public String name() {
        return name;
    }

    public Role role() {
        return role;
    }

    // ---- reading

    /** Every object whose key starts with {@code prefix}. */
    public List<ObjectInfo> list(String prefix) {
        return list(prefix, false);
    }

    /** The objects whose keys start with {@code prefix}, not those in deeper "folders" (no further '/'). */
    public List<ObjectInfo> listTop(String prefix) {
        return list(prefix, true);
    }

    private List<ObjectInfo> list(String prefix, boolean top) {
        List<ObjectInfo> out = new ArrayList<>();
        String token = null;
        try {
            do {
                ListObjectsV2Request.Builder b = ListObjectsV2Request.builder().bucket(name).prefix(prefix).continuationToken(token);
                if (top) {
                    b.delimiter("/");
                }
                ListObjectsV2Response r = s3.listObjectsV2(b.build());
                for (S3Object o : r.contents()) {
                    out.add(new ObjectInfo(o.key(), o.size(), ETags.unquote(o.eTag())));
                }
                token = Boolean.TRUE.equals(r.isTruncated()) ? r.nextContinuationToken() : null;
            } while (token != null);
        } catch (SdkException e) {
            throw failure(e, prefix);
        }
        return out;
    }

    /** Whether no object key starts with {@code prefix}. */
    public boolean isEmpty(String prefix) {
        try {
            return s3.listObjectsV2(b -> b.bucket(name).prefix(prefix).maxKeys(1)).contents().isEmpty();
        } catch (SdkException e) {
            throw failure(e, prefix);
        }
    }

    /** Whether any key under the prefix has "folders" below it (used only to explain an empty listing). */
    public boolean hasSubfolders(String prefix) {
        try {
            return !s3.listObjectsV2(b -> b.bucket(name).prefix(prefix).delimiter("/").maxKeys(1)).commonPrefixes().isEmpty();
        } catch (SdkException e) {
            throw failure(e, prefix);
        }
    }

    /** An object's size and ETag, or null when there is no such key. */
    public ObjectInfo head(String key) {
        try {
            var r = s3.headObject(b -> b.bucket(name).key(key));
            return new ObjectInfo(key, r.contentLength(), ETags.unquote(r.eTag()));
        } catch (NoSuchKeyException e) {
            return null;
        } catch (S3Exception e) {
            if (e.statusCode() == 404 && !(e.awsErrorDetails() != null && "NoSuchBucket".equals(e.awsErrorDetails().errorCode()))) {
                return null;
            }
            throw failure(e, key);
        } catch (SdkException e) {
            throw failure(e, key);
        }
    }

    /** A small object's bytes (a manifest, a plan, a marker), or null when there is no such key. */
    public byte[] readSmall(String key) {
        try {
            return s3.getObjectAsBytes(b -> b.bucket(name).key(key)).asByteArray();
        } catch (NoSuchKeyException e) {
            return null;
        } catch (SdkException e) {
            throw failure(e, key);
        }
    }

    /** {@code length} bytes of an object from {@code offset} (a ranged GET): a safetensors header, say. */
    public byte[] readRange(String key, long offset, int length) {
        if (length == 0) {
            return new byte[0];
        }
        try {
            return s3.getObjectAsBytes(b -> b.bucket(name).key(key).range("bytes=" + offset + "-" + (offset + length - 1))).asByteArray();
        } catch (SdkException e) {
            throw failure(e, key);
        }
    }

    /**
     * An object's bytes from {@code offset} (a ranged GET), only while its ETag is still {@code etag}
     * (null: any). Network failures and 5xx are IOExceptions, to be retried ({@link ResumableDownload}).
     */
    public ResumableDownload.Opened open(String key, String etag, long offset) throws IOException {
        try {
            var response = s3.getObject(b -> {
                b.bucket(name).key(key);
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
                throw QuantflowException.of(Reason.SOURCE_CHANGED, where(key) + " changed while it was being downloaded");
            }
            if (e.statusCode() >= 500 || e.statusCode() == 429) {
                throw new IOException("S3 answered HTTP " + e.statusCode(), e);
            }
            throw failure(e, key);
        } catch (SdkClientException e) {
            throw new IOException(Exceptions.describe(e), e);
        }
    }

    /**
     * Downloads an object into {@code file} in a streamed, resumable ranged GET (never in memory),
     * checking its size and that it does not change meanwhile; returns the sha256 of its bytes.
     */
    public String download(String key, Path file) {
        ObjectInfo o = head(key);
        if (o == null) {
            throw QuantflowException.of(role == Role.SOURCE ? Reason.S3_OBJECT_NOT_FOUND : Reason.STORE_OBJECT_MISSING, where(key) + ": not found");
        }
        try {
            Files.deleteIfExists(file);
            S3Settings settings = storage.settings();
            ResumableDownload download = new ResumableDownload(settings.backoff(), settings.stallTimeout(), () -> false);
            return download.fetch(file, o.size(), offset -> open(key, o.etag(), offset), where(key), n -> {
            });
        } catch (IOException e) {
            throw QuantflowException.of(Reason.IO_ERROR, "cannot write " + file + ": " + Exceptions.describe(e), e);
        }
    }

    // ---- writing

    /** Writes a small object in one PUT. */
    public void put(String key, byte[] body) {
        try {
            s3.putObject(b -> b.bucket(name).key(key).contentMD5(Digests.md5Base64(body)).contentType(contentType(key)),
                    RequestBody.fromBytes(body));
        } catch (SdkException e) {
            throw failure(e, key);
        }
    }

    /**
     * Writes a small object only if the key holds none ({@code If-None-Match: *}); returns false when
     * one was there. A store that does not implement conditional writes (HTTP 501) gets a check
     * followed by a plain write instead, which two racing writers can both pass. When the SDK retried
     * the write (an attempt whose answer was lost) and the retry found the key taken, the object there
     * is read back: if it holds exactly {@code body}, the lost attempt wrote it and this is true.
     */
    public boolean putIfAbsent(String key, byte[] body) {
        try {
            s3.putObject(b -> b.bucket(name).key(key).ifNoneMatch("*").contentMD5(Digests.md5Base64(body)).contentType(contentType(key)),
                    RequestBody.fromBytes(body));
            return true;
        } catch (S3Exception e) {
            if (e.statusCode() == 412 && e.numAttempts() > 1) {
                // the SDK sent the PUT again after an attempt whose answer it did not get: that attempt
                // may have written the object, and then this 412 is about our own write
                return Arrays.equals(readSmall(key), body);
            }
            if (e.statusCode() == 412 || e.statusCode() == 409) {
                return false;
            }
            if (e.statusCode() == 501 || e.statusCode() == 400 && e.awsErrorDetails() != null
                    && "NotImplemented".equals(e.awsErrorDetails().errorCode())) {
                if (head(key) != null) {
                    return false;
                }
                put(key, body);
                return true;
            }
            throw failure(e, key);
        } catch (SdkException e) {
            throw failure(e, key);
        }
    }

    /** Uploads a file to {@code key} (see {@link #upload(String, UploadContent)}). */
    public void upload(String key, Path file) {
        try {
            upload(key, UploadContent.of(file));
        } catch (IOException e) {
            throw QuantflowException.of(Reason.IO_ERROR, "cannot read " + file + ": " + Exceptions.describe(e), e);
        }
    }

    /**
     * Uploads content to {@code key} as one multipart upload, parts of {@link S3Settings#partSize()}
     * bytes each with its Content-MD5 (an empty object in one PUT). Whatever fails, the upload is
     * aborted: the key is left as it was and no part stays stored.
     */
    public void upload(String key, UploadContent content) {
        long size = content.size();
        try {
            if (size == 0) {
                s3.putObject(b -> b.bucket(name).key(key).contentMD5(Digests.md5Base64(new byte[0])), RequestBody.empty());
                return;
            }
            storage.multipart().upload(name, key, size, storage.settings().partSize(), b -> b.contentType("application/octet-stream"),
                    (uploadId, number, offset, length) -> {
                        String md5 = md5(content, offset, length);
                        ContentStreamProvider body = () -> {
                            try {
                                return content.open(offset, length);
                            } catch (IOException e) {
                                throw new UncheckedIOException(e);
                            }
                        };
                        return s3.uploadPart(b -> b.bucket(name).key(key).uploadId(uploadId).partNumber(number).contentLength(length)
                                .contentMD5(md5), RequestBody.fromContentProvider(body, length, "application/octet-stream")).eTag();
                    });
        } catch (SdkException e) {
            throw failure(e, key);
        } catch (UncheckedIOException e) {
            throw QuantflowException.of(Reason.IO_ERROR, "reading what to upload to " + where(key) + " failed: "
                    + Exceptions.describe(e.getCause()), e);
        }
    }

    /**
     * Copies {@code fromKey} of {@code from} to {@code key} inside the store (no bytes through this
     * process): one CopyObject up to 5 GiB, a multipart copy of ranged parts above (aborted if any part fails).
     */
    public void copyFrom(S3Bucket from, String fromKey, String key, long size) {
        try {
            if (size < SINGLE_COPY) {
                s3.copyObject(b -> b.sourceBucket(from.name).sourceKey(fromKey).destinationBucket(name).destinationKey(key));
                return;
            }
            storage.multipart().upload(name, key, size, Math.max(storage.settings().partSize(), MIN_COPY_PART), b -> {
            }, (uploadId, number, offset, length) -> s3.uploadPartCopy(b -> b.sourceBucket(from.name).sourceKey(fromKey)
                    .copySourceRange("bytes=" + offset + "-" + (offset + length - 1))
                    .destinationBucket(name).destinationKey(key).uploadId(uploadId).partNumber(number)).copyPartResult().eTag());
        } catch (SdkException e) {
            throw failure(e, key);
        }
    }

    /** Deletes objects (missing ones are no error). */
    public void delete(Collection<String> keys) {
        List<String> all = List.copyOf(keys);
        for (int i = 0; i < all.size(); i += 1000) {
            List<ObjectIdentifier> ids = all.subList(i, Math.min(all.size(), i + 1000)).stream()
                    .map(k -> ObjectIdentifier.builder().key(k).build()).toList();
            try {
                var r = s3.deleteObjects(b -> b.bucket(name).delete(Delete.builder().objects(ids).quiet(true).build()));
                if (r.hasErrors() && !r.errors().isEmpty()) {
                    throw QuantflowException.of(Reason.S3_ERROR, "S3 did not delete " + where(r.errors().get(0).key())
                            + " (" + r.errors().get(0).code() + ")");
                }
            } catch (SdkException e) {
                throw failure(e, "");
            }
        }
    }

    /** The keys under {@code prefix} with a multipart upload begun and neither completed nor aborted. */
    public List<String> openUploads(String prefix) {
        try {
            return storage.multipart().listOpen(name, prefix);
        } catch (SdkException e) {
            throw failure(e, prefix);
        }
    }

    /**
     * Aborts the multipart uploads under {@code prefix} whose key {@code key} accepts, begun by
     * anyone (a process killed in the middle of an upload leaves its upload open, and its parts
     * stored, until someone aborts it); returns how many were aborted.
     */
    public int abortUploads(String prefix, Predicate<String> key) {
        try {
            return storage.multipart().abortOpen(name, prefix, key);
        } catch (SdkException e) {
            throw failure(e, prefix);
        }
    }

    /** {@code s3://bucket/key}, as messages name an object. */
    public String where(String key) {
        return "s3://" + name + "/" + key;
    }

    private QuantflowException failure(SdkException e, String key) {
        return storage.failures().of(e, where(key), role);
    }

    private static String contentType(String key) {
        return key.endsWith(".json") ? "application/json" : key.endsWith(".md") ? "text/markdown" : "application/octet-stream";
    }

    private static String md5(UploadContent content, long offset, long length) {
        try (InputStream in = content.open(offset, length)) {
            return Digests.md5Base64(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
