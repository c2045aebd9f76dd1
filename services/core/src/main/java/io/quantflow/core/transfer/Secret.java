package io.quantflow.core.transfer;

/**
 * A credential (a Hub token, an S3 secret key) that prints as {@code <redacted>}: a record or a
 * message that holds one by mistake still does not show it. Only the code that sends it calls
 * {@link #reveal()}.
 */
public final class Secret {
    private final String value;

    private Secret(String value) {
        this.value = value;
    }

    /** The secret, or null for a null or blank value (an unset variable reads as no secret). */
    public static Secret of(String value) {
        return value == null || value.isBlank() ? null : new Secret(value.strip());
    }

    public String reveal() {
        return value;
    }

    /** Whether it is one printable ASCII word, as tokens and keys are (anything else must not reach a header). */
    public boolean isPrintableWord() {
        return value.chars().allMatch(c -> c > ' ' && c < 0x7f);
    }

    @Override
    public String toString() {
        return "<redacted>";
    }
}
