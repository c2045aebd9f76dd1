package io.quantflow.core.source;

import java.nio.file.Path;

/**
 * A source made local: the directory to convert from, and what it is.
 *
 * @param location    the source as requested
 * @param dir         a local model (or adapter) directory
 * @param revision    the commit a Hub revision was pinned to, else null
 * @param contentHash {@code git:COMMIT} or {@code sha256:...} of the files ({@link ContentHash})
 */
public record ResolvedSource(ModelLocation location, Path dir, String revision, String contentHash) {
}
