package io.quantflow.core.target;

/** Hears what publishing to a remote target uploads; every method has a no-op default. Called from several threads. */
public interface UploadListener {
    /** Uploading starts: {@code bytes} to send in all (what the target already holds is not counted). */
    default void uploadStarted(String what, long bytes) {
    }

    /** {@code bytes} more were sent (negative when a part is sent again after a failure). */
    default void uploaded(long bytes) {
    }

    default void uploadFinished() {
    }

    UploadListener NONE = new UploadListener() {
    };
}
