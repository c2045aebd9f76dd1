package io.quantflow.core.error;

/**
 * The stable codes every user-visible failure carries (CLI: {@code error: CODE: message}, exit 3;
 * services: the {@code code} of a {@code conversion-failed} event). Codes are part of the public
 * contract: add new ones, never rename.
 */
public enum ErrorCode {
    SOURCE_NOT_FOUND,
    ACCESS_DENIED,
    INVALID_CHECKPOINT,
    UNSUPPORTED_MODEL,
    TARGET_EXISTS,
    INVALID_REQUEST,
    OUT_OF_MEMORY,
    NO_SPACE,
    INTERNAL
}
