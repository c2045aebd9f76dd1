package io.quantflow.core.error;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.util.Objects;

/**
 * A failure with a stable {@link ErrorCode}, an internal {@link Reason} and a one-line message a person
 * can act on. The message never holds a secret and never a stack trace; the cause is kept for {@code --debug}.
 * The code and the message are public (CLI, events); the reason is for tests and callers that branch.
 */
public final class QuantflowException extends RuntimeException {
    private final ErrorCode code;
    private final Reason reason;

    private QuantflowException(ErrorCode code, Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.code = Objects.requireNonNull(code, "code");
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    /** A failure for {@code reason}, with the reason's code. */
    public static QuantflowException of(Reason reason, String message) {
        return of(reason, message, null);
    }

    /** A failure for {@code reason}, with the reason's code and the cause kept for {@code --debug}. */
    public static QuantflowException of(Reason reason, String message, Throwable cause) {
        if (reason.code() == null) {
            throw new IllegalArgumentException(reason + " takes its code from the failure: use reported(code, message)");
        }
        return new QuantflowException(reason.code(), reason, message, cause);
    }

    /** A failure another process reported with only its code and message (a {@code conversion-failed} event). */
    public static QuantflowException reported(ErrorCode code, String message) {
        return new QuantflowException(code, Reason.REPORTED, message, null);
    }

    /**
     * An I/O failure as the error a user can act on: a full disk is {@link Reason#DISK_FULL} (NO_SPACE), a
     * refused path {@link Reason#PERMISSION_DENIED} (ACCESS_DENIED), the rest {@link Reason#IO_ERROR} (INTERNAL).
     *
     * @param what what was being done, for the message ("cannot read /x", "writing /y")
     */
    public static QuantflowException ioFailure(String what, IOException e) {
        String m = String.valueOf(e.getMessage());
        if (m.contains("No space left") || m.contains("Disk quota exceeded")) {
            return of(Reason.DISK_FULL, what + ": no space left on the device", e);
        }
        if (e instanceof AccessDeniedException) {
            return of(Reason.PERMISSION_DENIED, what + ": permission denied", e);
        }
        return of(Reason.IO_ERROR, what + ": " + e.getClass().getSimpleName() + " " + m, e);
    }

    public ErrorCode code() {
        return code;
    }

    /** Why it failed, finer than {@link #code()}; internal, never shown to a user. */
    public Reason reason() {
        return reason;
    }

    /** The one line the CLI prints: {@code CODE: message}. */
    public String oneLine() {
        String m = getMessage() == null ? "" : getMessage().replace('\n', ' ').replace('\r', ' ');
        return code + ": " + m;
    }
}
