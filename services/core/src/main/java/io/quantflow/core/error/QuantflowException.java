package io.quantflow.core.error;

/**
 * A failure with a stable {@link ErrorCode} and a one-line message a person can act on.
 * The message never holds a secret and never a stack trace; the cause is kept for {@code --debug}.
 */
public final class QuantflowException extends RuntimeException {
    private final ErrorCode code;

    public QuantflowException(ErrorCode code, String message) {
        this(code, message, null);
    }

    public QuantflowException(ErrorCode code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    public ErrorCode code() {
        return code;
    }

    public static QuantflowException invalidCheckpoint(String message) {
        return new QuantflowException(ErrorCode.INVALID_CHECKPOINT, message);
    }

    public static QuantflowException invalidRequest(String message) {
        return new QuantflowException(ErrorCode.INVALID_REQUEST, message);
    }

    /** The one line the CLI prints: {@code CODE: message}. */
    public String oneLine() {
        String m = getMessage() == null ? "" : getMessage().replace('\n', ' ').replace('\r', ' ');
        return code + ": " + m;
    }
}
