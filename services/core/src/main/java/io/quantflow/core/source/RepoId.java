package io.quantflow.core.source;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A Hugging Face model id, {@code org/name} (or a bare {@code name}), checked as the Hub checks
 * it. The Hub treats ids case-insensitively, and so do {@link #key()} and the cache folder.
 */
public record RepoId(String id) {
    private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");
    private static final int MAX_LENGTH = 96;

    public RepoId {
        String[] parts = id.split("/", -1);
        boolean ok = id.length() <= MAX_LENGTH && parts.length <= 2 && !id.contains("--") && !id.contains("..");
        for (String p : parts) {
            ok &= SEGMENT.matcher(p).matches() && !p.endsWith(".") && !p.endsWith("-");
        }
        if (!ok) {
            throw QuantflowException.of(Reason.LOCATION_INVALID, "'" + id + "' is not a Hugging Face model id (org/name: letters, digits,"
                    + " '-', '_' and '.', at most " + MAX_LENGTH + " characters, no '--' or '..')");
        }
    }

    /** The id in lower case: what two spellings of one repo have in common. */
    public String key() {
        return id.toLowerCase(Locale.ROOT);
    }

    /** The cache folder's name, as the Hub's cache names it ({@code models--org--name}), in lower case. */
    public String folderName() {
        return "models--" + key().replace("/", "--");
    }

    @Override
    public String toString() {
        return id;
    }
}
