package io.quantflow.core.target;

import java.nio.file.Path;

/**
 * Where an artifact is published: a local directory ({@link LocalTarget}), an S3 prefix
 * ({@link S3Target}), later a Hub repository. Every target goes through the same life cycle
 * (docs/adr/0011-targets.md):
 * <ol>
 * <li>{@link #check()}: may this target be written under its {@link IfExists}? Cheap, writes nothing,
 * done before any work so that a request that cannot be published fails at once (TARGET_EXISTS,
 * INVALID_REQUEST, ACCESS_DENIED);</li>
 * <li>{@link #stage()}: checks again and prepares what holds the new files until they are committed;</li>
 * <li>{@link #write} each file of the artifact, then {@link #writeManifest} each manifest, which the
 * target holds back;</li>
 * <li>{@link #commit()}: makes the artifact visible with the manifests written last, so that a reader that
 * sees a manifest sees a complete artifact; with {@link IfExists#OVERWRITE} the old artifact is
 * replaced, and no reader ever sees an old manifest beside new files;</li>
 * <li>or {@link #abort()} (what {@link #close()} does when the target was not committed): removes what
 * was written, so that nothing partial is left visible.</li>
 * </ol>
 * Paths are relative, with '/' between folders ({@code model.safetensors}, {@code bnb-4bit/config.json}).
 * A file's bytes come from a local file, whatever the target keeps them in.
 */
public interface Target extends AutoCloseable {

    /** The target as a user names it ({@code /models/out}, {@code s3://bucket/prefix}), for messages. */
    String uri();

    IfExists ifExists();

    /** Fails (TARGET_EXISTS, INVALID_REQUEST...) when the target cannot be written; writes nothing. */
    void check();

    /** Begins: checks the target again and prepares to receive files. */
    void stage();

    /**
     * Adds one file of the artifact (not a manifest). Not visible to readers before {@link #commit()}.
     * May be called from several threads at once, for different paths. The target may keep a hard
     * link to {@code file} rather than a copy: the caller must not change the file afterwards.
     */
    void write(String path, Path file);

    /** Hands over a manifest ({@code quantflow-manifest.json} of the artifact or of one output folder); written at commit, last. */
    void writeManifest(String path, byte[] json);

    /** Publishes: the files are in place, then the manifests are written, in the order they were handed over. */
    void commit();

    /** Removes what this target wrote so far; never fails (what it cannot remove is left without a manifest). */
    void abort();

    /** Aborts unless committed. */
    @Override
    void close();
}
