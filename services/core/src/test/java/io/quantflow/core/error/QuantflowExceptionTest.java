package io.quantflow.core.error;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Reasons map to the public codes; the factories keep code, reason, message and cause together. */
class QuantflowExceptionTest {

    @Test
    void everyReasonButReportedHasACodeAndEveryCodeHasAReason() {
        for (Reason r : Reason.values()) {
            if (r == Reason.REPORTED) {
                assertNull(r.code());
            } else {
                assertNotNull(r.code(), r.name());
            }
        }
        Set<ErrorCode> reached = Arrays.stream(Reason.values()).map(Reason::code).filter(Objects::nonNull)
                .collect(Collectors.toCollection(() -> EnumSet.noneOf(ErrorCode.class)));
        assertEquals(EnumSet.allOf(ErrorCode.class), reached);
    }

    @Test
    void ofCarriesTheReasonsCode() {
        IOException cause = new IOException("disk on fire");
        QuantflowException e = QuantflowException.of(Reason.HEADER_TOO_LARGE, "model.safetensors: too large", cause);
        assertEquals(ErrorCode.INVALID_CHECKPOINT, e.code());
        assertEquals(Reason.HEADER_TOO_LARGE, e.reason());
        assertEquals("model.safetensors: too large", e.getMessage());
        assertSame(cause, e.getCause());
        assertEquals("INVALID_CHECKPOINT: model.safetensors: too large", e.oneLine());
        assertEquals("INVALID_REQUEST: two lines", QuantflowException.of(Reason.OPTION_INVALID, "two\nlines").oneLine());
    }

    @Test
    void aReportedFailureKeepsItsCode() {
        QuantflowException e = QuantflowException.reported(ErrorCode.TARGET_EXISTS, "s3://b/x already holds files");
        assertEquals(ErrorCode.TARGET_EXISTS, e.code());
        assertEquals(Reason.REPORTED, e.reason());
        assertEquals("TARGET_EXISTS: s3://b/x already holds files", e.oneLine());
        assertThrows(IllegalArgumentException.class, () -> QuantflowException.of(Reason.REPORTED, "no code"));
    }

    @Test
    void ioFailuresAreNoSpaceAccessDeniedOrInternal() {
        QuantflowException full = QuantflowException.ioFailure("writing /out", new FileSystemException("/out/x: No space left on device"));
        assertEquals(ErrorCode.NO_SPACE, full.code());
        assertEquals(Reason.DISK_FULL, full.reason());
        assertEquals("writing /out: no space left on the device", full.getMessage());
        QuantflowException quota = QuantflowException.ioFailure("writing /out", new IOException("Disk quota exceeded"));
        assertEquals(Reason.DISK_FULL, quota.reason());

        QuantflowException denied = QuantflowException.ioFailure("cannot read /in", new AccessDeniedException("/in"));
        assertEquals(ErrorCode.ACCESS_DENIED, denied.code());
        assertEquals(Reason.PERMISSION_DENIED, denied.reason());
        assertEquals("cannot read /in: permission denied", denied.getMessage());

        IOException other = new IOException("stale file handle");
        QuantflowException internal = QuantflowException.ioFailure("cannot read /in", other);
        assertEquals(ErrorCode.INTERNAL, internal.code());
        assertEquals(Reason.IO_ERROR, internal.reason());
        assertEquals("cannot read /in: IOException stale file handle", internal.getMessage());
        assertSame(other, internal.getCause());
    }
}
