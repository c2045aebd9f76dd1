package io.quantflow.core.storage;

/** An object: its key, size and ETag (without quotes; null where not known). */
public record ObjectInfo(String key, long size, String etag) {
}
