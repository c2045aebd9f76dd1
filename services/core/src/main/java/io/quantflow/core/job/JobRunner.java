package io.quantflow.core.job;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.cache.CacheKey;
import io.quantflow.core.cache.ConversionCache;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.convert.Backends;
import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.convert.PrequantizedCopy;
import io.quantflow.core.convert.Provenance;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.source.ContentHash;
import io.quantflow.core.source.HubFetcher;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.source.ResolvedSource;
import io.quantflow.core.source.SourceListener;
import io.quantflow.core.source.SourceResolver;
import io.quantflow.core.target.ArtifactFiles;
import io.quantflow.core.target.HubTarget;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.target.Target;
import io.quantflow.core.target.Targets;
import io.quantflow.core.target.UploadListener;
import io.quantflow.core.util.FileTrees;
import io.quantflow.core.util.Sizes;

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
 * the result in the cache), and publishes the output to its {@link Target}: a local directory (the
 * converter writes straight into its staging directory) or an S3 prefix (the output is written into
 * the conversion cache first, then published from there).
 */
public final class JobRunner implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final JobSettings settings;
    private final SourceResolver resolver;
    private final ConversionCache cache;

    /** Hears about fetching, converting and uploading. */
    public interface Listener extends Converter.Listener, SourceListener, UploadListener {
        Listener NONE = new Listener() {
        };
    }

    /**
     * What was done.
     *
     * @param cached  the output came from the conversion cache
     * @param variant the pre-quantized model used instead of the one asked for, or null
     */
    public record Outcome(ModelLocation target, List<Manifest> manifests, boolean cached, Manifest.Variant variant,
                          HubTarget.Published published) {
        public Outcome(ModelLocation target, List<Manifest> manifests, boolean cached, Manifest.Variant variant) {
            this(target, manifests, cached, variant, null);
        }
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
        Backends.require(job.options().device());
        target(job, listener).check();
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
                HubTarget.Published[] published = {null};
                List<Manifest> ms = fromCache(hit.get(), job, source, adapter, t0, listener, published);
                return new Outcome(job.target(), ms, true, null, published[0]);
            }
        }
        // a local target is written once: the converter streams into its staging directory; any other
        // target gets the artifact from the conversion cache's entry, converted there first
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
            default -> {
                Path entry = cache.entry(key);
                Converter.Result r = new Converter().convert(request(job, source, adapter, entry, IfExists.OVERWRITE, provenance), listener);
                HubTarget.Published p = publish(job, entry, Map.of(), listener);
                yield new Outcome(job.target(), r.manifests(), false, null, p);
            }
        };
    }

    private static Converter.Request request(ConversionJob job, ResolvedSource source, ResolvedSource adapter, Path target,
                                             IfExists ifExists, Provenance provenance) {
        return new Converter.Request(source.dir(), adapter == null ? null : adapter.dir(), target, job.options(), ifExists,
                job.threads(), provenance);
    }

    /** The job's target, not staged (an S3 client is made only for an S3 target). */
    private Target target(ConversionJob job, UploadListener listener) {
        return Targets.of(job.target(), job.ifExists(), resolver::s3, settings::hub, job.hub(), listener);
    }

    /**
     * Publishes the artifact in {@code dir} (every file, then the manifests) to the job's target.
     *
     * @param replaced manifests to publish instead of the artifact's own (relative path to local file)
     * @return where a Hub target committed, else null
     */
    private HubTarget.Published publish(ConversionJob job, Path dir, Map<String, Path> replaced, Listener listener) {
        try (Target out = target(job, listener)) {
            int parallel = 1;
            long bytes = 0;
            List<String> files = ArtifactFiles.list(dir);
            if (!(job.target() instanceof ModelLocation.Local)) {
                for (String f : files) {
                    bytes += dir.resolve(f).toFile().length();
                }
                listener.note("uploading " + files.size() + " files (" + Sizes.human(bytes) + ") to " + out.uri());
                parallel = job.target() instanceof ModelLocation.S3 ? resolver.s3().settings().parallel() : settings.hub().parallel();
            }
            out.stage();
            if (out instanceof HubTarget) {
                listener.uploadStarted(out.uri(), bytes);
            }
            try {
                Targets.publish(out, dir, replaced, parallel);
            } finally {
                if (out instanceof HubTarget) {
                    listener.uploadFinished();
                }
            }
            if (out instanceof HubTarget h) {
                HubTarget.Published p = h.published();
                listener.note((p.reused() ? "the commit had landed already: " : "committed ") + p.commit() + " to " + out.uri()
                        + (p.pullRequestUrl() == null ? "" : " as a pull request: " + p.pullRequestUrl()));
                return p;
            }
            return null;
        }
    }

    /** The pre-quantized variant as the output, when the operator maps the model to one and it fits the request. */
    private Optional<Outcome> tryVariant(ConversionJob job, Listener listener) {
        if (!(job.source() instanceof ModelLocation.Hub asked) || job.adapter() != null
                || !job.options().formats().equals(List.of(Formats.BNB_4BIT))) {
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
        String why = PrequantizedCopy.mismatch(readConfig(meta.dir()), job.options().quant());
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
        HubTarget.Published[] published = {null};
        Manifest m = switch (job.target()) {
            case ModelLocation.Local t -> PrequantizedCopy.copy(snap.dir(), t.dir(), job.ifExists(), p, v);
            default -> {
                Path staging = staging();
                try {
                    Manifest written = PrequantizedCopy.copy(snap.dir(), staging.resolve("out"), IfExists.FAIL, p, v);
                    published[0] = publish(job, staging.resolve("out"), Map.of(), listener);
                    yield written;
                } finally {
                    FileTrees.delete(staging);
                }
            }
        };
        return Optional.of(new Outcome(job.target(), List.of(m), false, v, published[0]));
    }

    /** Writes a cached artifact to the target with manifests that say so. */
    private List<Manifest> fromCache(Path entry, ConversionJob job, ResolvedSource source, ResolvedSource adapter, long t0,
                                     Listener listener, HubTarget.Published[] published) {
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
        for (OutputFormat f : job.options().formats()) {
            String rel = job.options().formats().size() == 1 ? Manifest.FILE_NAME : f.id() + "/" + Manifest.FILE_NAME;
            Manifest m = rewritten.get(rel);
            if (m == null) {
                throw QuantflowException.of(Reason.CACHE_ENTRY_INCOMPLETE, "the conversion cache entry " + entry + " lacks " + rel);
            }
            ordered.add(m);
        }
        // the artifact's files as the cache holds them (hard-linked into a local target), its manifests saying so
        Path staging = staging();
        try {
            Map<String, Path> replaced = new LinkedHashMap<>();
            for (Map.Entry<String, Manifest> e : rewritten.entrySet()) {
                Path p = staging.resolve(e.getKey());
                Files.createDirectories(p.getParent());
                e.getValue().write(p);
                replaced.put(e.getKey(), p);
            }
            published[0] = publish(job, entry, replaced, listener);
        } catch (IOException e) {
            throw QuantflowException.ioFailure("staging the manifests in " + staging, e);
        } finally {
            FileTrees.delete(staging);
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
