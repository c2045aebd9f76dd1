package io.quantflow.core.target;

/** What to do when the target already holds files. */
public enum IfExists {
    /** Refuse with TARGET_EXISTS and leave the target untouched (the default). */
    FAIL,
    /** Replace the target atomically once the new output is complete. */
    OVERWRITE
}
