package io.quantflow.core.target;

/** Hears what publishing to a remote target uploads; every method has a no-op default. Called from several threads. */
public interface UploadListener {
    /** Uploading starts: the artifact's {@code bytes} in all. */
    default void uploadStarted(String what, long bytes) {
    }

    /** {@code bytes} more are at the target: a file or a part stored, or found there already (never counted twice). */
    default void uploaded(long bytes) {
    }

    default void uploadFinished() {
    }

    UploadListener NONE = new UploadListener() {
    };
}
