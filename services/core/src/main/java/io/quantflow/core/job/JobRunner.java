package io.quantflow.core.job;

import io.quantflow.core.format.Formats;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.cache.ArtifactFiles;
import io.quantflow.core.cache.CacheKey;
import io.quantflow.core.cache.ConversionCache;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.convert.Backends;
import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.IfExists;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.convert.PrequantizedCopy;
import io.quantflow.core.convert.Provenance;
import io.quantflow.core.convert.TargetDirectory;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.source.ContentHash;
import io.quantflow.core.source.HubFetcher;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.source.ResolvedSource;
import io.quantflow.core.source.SourceListener;
import io.quantflow.core.source.SourceResolver;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * A conversion from wherever the source is to wherever the output goes, in front of the
 * {@link Converter}: checks the request and the target, stands a pre-quantized variant in where
 * the operator allows it, resolves the source and adapter to local directories (fetching them),
 * answers from the conversion cache when it holds the same conversion, else converts (and keeps
 * the result in the cache), and writes the output locally or uploads it to S3.
 */
public final class JobRunner implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final JobSettings settings;
    private final SourceResolver resolver;
    private final ConversionCache cache;

    /** Hears about fetching, converting and uploading. */
    public interface Listener extends Converter.Listener, SourceListener {
        Listener NONE = new Listener() {
        };
    }

    /**
     * What was done.
     *
     * @param cached  the output came from the conversion cache
     * @param variant the pre-quantized model used instead of the one asked for, or null
     */
    public record Outcome(ModelLocation target, List<Manifest> manifests, boolean cached, Manifest.Variant variant) {
    }

    public JobRunner(JobSettings settings) {
        this.settings = settings;
        this.resolver = new SourceResolver(settings.cacheRoot(), settings.hub(), settings.s3());
        this.cache = new ConversionCache(settings.cacheRoot().resolve("artifacts"));
    }

    public ConversionCache cache() {
        return cache;
    }

    public SourceResolver resolver() {
        return resolver;
    }

    public Outcome run(ConversionJob job, Listener listener) {
        long t0 = System.nanoTime();
        job.options().outputs(job.adapter() != null);
        Backends.require(job.device());
        checkTarget(job);
        Optional<Outcome> variant = tryVariant(job, listener);
        if (variant.isPresent()) {
            return variant.get();
        }
        ResolvedSource source = resolver.resolve(job.source(), listener);
        ResolvedSource adapter = job.adapter() == null ? null : resolver.resolve(job.adapter(), listener);
        String key = CacheKey.of(source.contentHash(), adapter == null ? null : adapter.contentHash(), job.options());
        Provenance provenance = new Provenance(job.source().uri(), source.revision(), source.contentHash(),
                adapter == null ? null : job.adapter().uri(), adapter == null ? null : adapter.contentHash(), key);
        if (job.useCache()) {
            Optional<Path> hit = cache.lookup(key);
            if (hit.isPresent()) {
                listener.note("the conversion cache holds this conversion (" + key.substring(0, 12) + "): not converting again");
                return new Outcome(job.target(), fromCache(hit.get(), job, source, adapter, t0, listener), true, null);
            }
        }
        return switch (job.target()) {
            case ModelLocation.Local t -> {
                Converter.Result r = new Converter().convert(request(job, source, adapter, t.dir(), job.ifExists(), provenance), listener);
                try {
                    cache.store(key, t.dir());
                } catch (QuantflowException e) {
                    listener.note("the result was not kept in the conversion cache: " + e.oneLine());
                }
                yield new Outcome(t, r.manifests(), false, null);
            }
            case ModelLocation.S3 t -> {
                Path entry = cache.entry(key);
                Converter.Result r = new Converter().convert(request(job, source, adapter, entry, IfExists.OVERWRITE, provenance), listener);
                new S3Publisher(resolver.s3()).publish(entry, Map.of(), t, job.ifExists(), listener);
                yield new Outcome(t, r.manifests(), false, null);
            }
            case ModelLocation.Hub h -> throw new IllegalStateException("checked above");
        };
    }

    private static Converter.Request request(ConversionJob job, ResolvedSource source, ResolvedSource adapter, Path target,
                                             IfExists ifExists, Provenance provenance) {
        return new Converter.Request(source.dir(), adapter == null ? null : adapter.dir(), target, job.options(), ifExists,
                job.threads(), provenance);
    }

    private void checkTarget(ConversionJob job) {
        switch (job.target()) {
            case ModelLocation.Local t -> TargetDirectory.checkTarget(t.dir().toAbsolutePath().normalize(), job.ifExists());
            case ModelLocation.S3 t -> new S3Publisher(resolver.s3()).checkTarget(t, job.ifExists());
            case ModelLocation.Hub h -> throw QuantflowException.of(Reason.LOCATION_NOT_ALLOWED, h.uri()
                    + ": quantflow does not write to the Hub; give a directory or an s3:// prefix as --out");
        }
    }

    /** The pre-quantized variant as the output, when the operator maps the model to one and it fits the request. */
    private Optional<Outcome> tryVariant(ConversionJob job, Listener listener) {
        if (!(job.source() instanceof ModelLocation.Hub asked) || job.adapter() != null
                || !job.formats().equals(List.of(Formats.BNB_4BIT))) {
            return Optional.empty();
        }
        Optional<ModelLocation.Hub> mapped = settings.variants().variantOf(asked.repo());
        if (mapped.isEmpty()) {
            return Optional.empty();
        }
        ModelLocation.Hub variant = mapped.get();
        String file = String.valueOf(settings.variants().file());
        if (job.exactModelName()) {
            listener.note("the variants file maps " + asked.uri() + " to the pre-quantized " + variant.uri()
                    + "; --exact-model-name: quantizing " + asked.uri() + " itself");
            return Optional.empty();
        }
        if (asked.revision() != null) {
            listener.note("not using the pre-quantized variant " + variant.uri() + ": the request pins " + asked.uri()
                    + " to a revision; quantizing it itself");
            return Optional.empty();
        }
        HubFetcher hub = resolver.hub();
        HubFetcher.Snapshot meta = hub.fetchMetadata(variant, listener);
        String why = PrequantizedCopy.mismatch(readConfig(meta.dir()), job.quant());
        if (why != null) {
            listener.note("not using the pre-quantized variant " + variant.uri() + " of " + asked.uri() + ": " + why
                    + "; quantizing " + asked.uri() + " itself");
            return Optional.empty();
        }
        String used = "hf://" + variant.repo().id() + "@" + meta.commit();
        listener.note("using the pre-quantized variant " + used + " for " + asked.uri() + " (variants file " + file
                + "); pass --exact-model-name to quantize " + asked.uri() + " itself");
        HubFetcher.Snapshot snap = hub.fetch(variant, listener);
        Manifest.Variant v = new Manifest.Variant(asked.uri(), used, file);
        Provenance p = Provenance.ofSource(variant.uri(), snap.commit(), ContentHash.ofCommit(snap.commit()));
        Manifest m = switch (job.target()) {
            case ModelLocation.Local t -> PrequantizedCopy.copy(snap.dir(), t.dir(), job.ifExists(), p, v);
            case ModelLocation.S3 t -> {
                Path staging = staging();
                try {
                    Manifest written = PrequantizedCopy.copy(snap.dir(), staging.resolve("out"), IfExists.FAIL, p, v);
                    new S3Publisher(resolver.s3()).publish(staging.resolve("out"), Map.of(), t, job.ifExists(), listener);
                    yield written;
                } finally {
                    TargetDirectory.deleteTree(staging);
                }
            }
            case ModelLocation.Hub h -> throw new IllegalStateException("checked before");
        };
        return Optional.of(new Outcome(job.target(), List.of(m), false, v));
    }

    /** Writes a cached artifact to the target with manifests that say so. */
    private List<Manifest> fromCache(Path entry, ConversionJob job, ResolvedSource source, ResolvedSource adapter, long t0,
                                     Listener listener) {
        List<String> manifestFiles = ArtifactFiles.manifests(entry);
        Map<String, Manifest> rewritten = new LinkedHashMap<>();
        for (String rel : manifestFiles) {
            Manifest m;
            try {
                m = Manifest.read(entry.resolve(rel));
            } catch (IOException e) {
                throw QuantflowException.ioFailure("cannot read " + entry.resolve(rel), e);
            }
            Manifest.Source s = new Manifest.Source(source.dir().toString(), 0, 0, null, 0, job.source().uri(), null, null);
            Manifest.Adapter a = adapter == null ? null
                    : new Manifest.Adapter(adapter.dir().toString(), 0, 0, 0, 0, false, false, job.adapter().uri(), null);
            rewritten.put(rel, m.servedFromCache(s, a, (System.nanoTime() - t0) / 1_000_000));
        }
        List<Manifest> ordered = new ArrayList<>();
        for (OutputFormat f : job.formats()) {
            String rel = job.formats().size() == 1 ? Manifest.FILE_NAME : f.id() + "/" + Manifest.FILE_NAME;
            Manifest m = rewritten.get(rel);
            if (m == null) {
                throw QuantflowException.of(Reason.CACHE_ENTRY_INCOMPLETE, "the conversion cache entry " + entry + " lacks " + rel);
            }
            ordered.add(m);
        }
        switch (job.target()) {
            case ModelLocation.Local t -> {
                try (TargetDirectory out = TargetDirectory.prepare(t.dir(), job.ifExists())) {
                    for (String rel : ArtifactFiles.list(entry)) {
                        if (rewritten.containsKey(rel)) {
                            rewritten.get(rel).write(out.staging().resolve(rel));
                        } else {
                            ArtifactFiles.linkOrCopy(entry.resolve(rel), out.staging().resolve(rel));
                        }
                    }
                    out.commit();
                } catch (IOException e) {
                    throw QuantflowException.ioFailure("writing " + t.dir(), e);
                }
            }
            case ModelLocation.S3 t -> {
                Path staging = staging();
                try {
                    Map<String, Path> replaced = new LinkedHashMap<>();
                    for (Map.Entry<String, Manifest> e : rewritten.entrySet()) {
                        Path p = staging.resolve(e.getKey());
                        Files.createDirectories(p.getParent());
                        e.getValue().write(p);
                        replaced.put(e.getKey(), p);
                    }
                    new S3Publisher(resolver.s3()).publish(entry, replaced, t, job.ifExists(), listener);
                } catch (IOException e) {
                    throw QuantflowException.ioFailure("staging the manifests in " + staging, e);
                } finally {
                    TargetDirectory.deleteTree(staging);
                }
            }
            case ModelLocation.Hub h -> throw new IllegalStateException("checked before");
        }
        return ordered;
    }

    private Path staging() {
        Path p = settings.cacheRoot().resolve("tmp").resolve("upload-" + UUID.randomUUID());
        try {
            Files.createDirectories(p);
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot create " + p, e);
        }
        return p;
    }

    private static ObjectNode readConfig(Path dir) {
        Path config = dir.resolve(Checkpoint.CONFIG_FILE);
        try {
            return Files.isRegularFile(config) && JSON.readTree(config.toFile()) instanceof ObjectNode o ? o : null;
        } catch (IOException e) {
            return null;
        }
    }

    @Override
    public void close() {
        resolver.close();
    }
}
