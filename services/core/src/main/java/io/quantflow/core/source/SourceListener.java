package io.quantflow.core.source;

/** Hears what fetching a source does; every method has a no-op default. Called from several threads. */
public interface SourceListener {
    /** A line a user should read (which commit was pinned, which variant was used...). */
    default void note(String line) {
    }

    /** Downloading starts: {@code bytes} still to fetch in all. */
    default void downloadStarted(String what, long bytes) {
    }

    /** {@code bytes} more arrived (negative when a server made a download start over). */
    default void downloaded(long bytes) {
    }

    default void downloadFinished() {
    }

    SourceListener NONE = new SourceListener() {
    };
}
