package io.quantflow.core.convert;

/**
 * Where a conversion's inputs came from, for its manifest, when they were fetched rather than
 * named as local directories: the source and adapter as requested, the commit a Hub revision was
 * pinned to, their content hashes, and the conversion cache's key. Any field may be null.
 */
public record Provenance(String sourceUri, String sourceRevision, String sourceContentHash, String adapterUri,
                         String adapterContentHash, String cacheKey) {

    /** A source alone, with no adapter and no cache key (a pre-quantized variant copied as it is). */
    public static Provenance ofSource(String uri, String revision, String contentHash) {
        return new Provenance(uri, revision, contentHash, null, null, null);
    }
}
