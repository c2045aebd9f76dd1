package io.quantflow.core.convert;

import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;

import java.io.IOException;
import java.nio.file.AccessDeniedException;

/**
 * Only {@link #ioFailure} is left here, for its callers everywhere; the output directory it was named
 * for is {@code target.LocalTarget}. The helper moves onto {@link QuantflowException}.
 */
public final class TargetDirectory {
    private TargetDirectory() {
    }

    /** An I/O failure as the error a user can act on: a full disk is NO_SPACE, the rest INTERNAL. */
    public static QuantflowException ioFailure(String what, IOException e) {
        String m = String.valueOf(e.getMessage());
        if (m.contains("No space left") || m.contains("Disk quota exceeded")) {
            return new QuantflowException(ErrorCode.NO_SPACE, what + ": no space left on the device", e);
        }
        if (e instanceof AccessDeniedException) {
            return new QuantflowException(ErrorCode.ACCESS_DENIED, what + ": permission denied", e);
        }
        return new QuantflowException(ErrorCode.INTERNAL, what + ": " + e.getClass().getSimpleName() + " " + m, e);
    }
}
