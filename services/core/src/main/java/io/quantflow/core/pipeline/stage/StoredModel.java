package io.quantflow.core.pipeline.stage;

import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.lora.LoraAdapter;
import io.quantflow.core.pipeline.RequestCheck;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.SafetensorsHeader;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.source.ResolvedSource;
import io.quantflow.core.source.SourceListener;
import io.quantflow.core.source.SourceResolver;
import io.quantflow.core.storage.ObjectInfo;
import io.quantflow.core.storage.Role;
import io.quantflow.core.storage.S3Bucket;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The fetcher's view of a model or adapter in the object store, read without its weights: where
 * its objects are (staged there first when it is on a hub), a local mirror of its config, index
 * and shard headers that core's strict {@link Checkpoint#open} reads, and the converter's checks
 * over ranged reads.
 */
final class StoredModel {
    private final WorkStore store;

    StoredModel(WorkStore store) {
        this.store = store;
    }

    /**
     * The converter's checks on the source's headers: each shard opened over ranged reads of its
     * object (the header, and for a 4-bit base the few bytes of each weight's quant state).
     */
    RequestCheck.Summary check(String name, Checkpoint mirror, Map<String, ObjectInfo> files, Located source,
                                       LoraAdapter lora, List<OutputSpec> specs) {
        List<Checkpoint.Shard> remote = new ArrayList<>();
        S3Bucket bucket = store.s3().bucket(Role.SOURCE, source.bucket());
        try {
            for (Checkpoint.Shard s : mirror.shards()) {
                ObjectInfo o = files.get(s.fileName());
                remote.add(new Checkpoint.Shard(s.fileName(), SafetensorsFile.open(s.fileName(), o.size(),
                        (position, dst) -> dst.put(bucket.readRange(o.key(), position, dst.remaining())))));
            }
            return RequestCheck.check(name, mirror.config(), remote, lora, specs);
        } finally {
            remote.forEach(s -> s.file().close());
        }
    }

    /** Where a source's or adapter's objects are: in the store already, or staged there from the Hub. */
    record Located(String bucket, String prefix, List<ObjectInfo> objects, String revision, String contentHash) {

        /** Objects in the store already: no Hub revision, no content hash. */
        static Located inStore(String bucket, String prefix, List<ObjectInfo> objects) {
            return new Located(bucket, prefix, objects, null, null);
        }
    }

    Located locate(String requestId, String uri, String what, SourceResolver resolver, Path scratch) {
        ModelLocation location;
        try {
            location = ModelLocation.parse(uri);
        } catch (IllegalArgumentException | QuantflowException e) {
            throw QuantflowException.of(Reason.LOCATION_INVALID, "the " + what + " " + uri + " is not an s3:// or hf:// location: " + e.getMessage());
        }
        return switch (location) {
            case ModelLocation.S3 s -> {
                List<ObjectInfo> objects = store.s3().bucket(Role.SOURCE, s.bucket()).listTop(s.keyPrefix());
                if (objects.isEmpty()) {
                    throw QuantflowException.of(Reason.LOCATION_EMPTY, "the " + what + " " + s.uri() + " holds no files");
                }
                yield Located.inStore(s.bucket(), s.keyPrefix(), objects);
            }
            case ModelLocation.Hub h -> {
                ResolvedSource r = resolver.resolve(h, SourceListener.NONE);
                String prefix = WorkStore.prefix(requestId) + what + "/";
                List<ObjectInfo> objects = new ArrayList<>();
                try (Stream<Path> list = Files.list(r.dir())) {
                    for (Path p : list.filter(Files::isRegularFile).sorted().toList()) {
                        String key = prefix + p.getFileName();
                        store.objects().upload(key, p);
                        objects.add(new ObjectInfo(key, Files.size(p), null));
                    }
                } catch (IOException e) {
                    throw QuantflowException.of(Reason.IO_ERROR, "cannot stage " + h.uri() + ": " + e.getMessage(), e);
                }
                yield new Located(store.bucket(), prefix, objects, r.revision(), r.contentHash());
            }
            case ModelLocation.Local l -> throw QuantflowException.of(Reason.LOCATION_NOT_ALLOWED, "the " + what + " must be in the object store"
                    + " (s3://bucket/prefix) or on a hub (hf://org/name); quantflow submit uploads a local directory first");
        };
    }

    /**
     * A local directory that looks like the source to {@link Checkpoint#open}: config.json and the
     * index as they are, every safetensors file with its real header and size but no data (a sparse
     * file: only the header is read), every other file empty (only its name is used).
     */
    Map<String, ObjectInfo> mirrorHeaders(Located source, Path dir) throws IOException {
        Map<String, ObjectInfo> byName = new LinkedHashMap<>();
        for (ObjectInfo o : source.objects()) {
            String n = name(o.key());
            byName.put(n, o);
            Path local = dir.resolve(n);
            if (n.equals(Checkpoint.CONFIG_FILE) || n.equals(Checkpoint.INDEX_FILE)) {
                if (o.size() > 64L << 20) {
                    throw QuantflowException.of(Reason.JSON_TOO_LARGE, n + " is larger than 64 MB");
                }
                store.s3().bucket(Role.SOURCE, source.bucket()).download(o.key(), local);
            } else if (n.endsWith(".safetensors")) {
                writeHeaderOnly(source.bucket(), o, local);
            } else {
                Files.createFile(local);
            }
        }
        if (!byName.containsKey(Checkpoint.CONFIG_FILE)) {
            throw QuantflowException.of(Reason.CONFIG_MISSING, "s3://" + source.bucket() + "/" + source.prefix()
                    + " has no config.json; transformers cannot load a model without it");
        }
        return byName;
    }

    private void writeHeaderOnly(String bucketName, ObjectInfo o, Path local) throws IOException {
        S3Bucket bucket = store.s3().bucket(Role.SOURCE, bucketName);
        try (RandomAccessFile f = new RandomAccessFile(local.toFile(), "rw")) {
            if (o.size() >= 8) {
                byte[] len = bucket.readRange(o.key(), 0, 8);
                long n = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong();
                f.write(len);
                if (n > 0 && n <= SafetensorsHeader.MAX_HEADER_BYTES && 8 + n <= o.size()) {
                    f.write(bucket.readRange(o.key(), 8, (int) n));
                }
            }
            f.setLength(o.size());
        }
    }

    static String name(String key) {
        return key.substring(key.lastIndexOf('/') + 1);
    }
}
