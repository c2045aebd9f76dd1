package io.quantflow.core.storage;

/**
 * Whose objects a bucket holds in a request, which decides what a failure means to the person who
 * asked: the same missing bucket is a source that is not there, a target that cannot be written, or
 * a pipeline that is not set up. Access denied is ACCESS_DENIED and other store failures INTERNAL
 * whatever the role.
 */
public enum Role {
    /** A model or adapter to read (and the pipeline's copies of one): a missing bucket or key is SOURCE_NOT_FOUND. */
    SOURCE,
    /** Where an artifact is published: a missing bucket is INVALID_REQUEST (the request names it), a missing key INTERNAL. */
    TARGET,
    /** The pipeline's own work bucket (its operator's setup, not the request's): anything missing is INTERNAL. */
    WORK
}
