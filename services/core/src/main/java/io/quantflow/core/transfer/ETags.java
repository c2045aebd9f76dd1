package io.quantflow.core.transfer;

import java.util.Locale;

/** HTTP entity tags as the Hub and S3 send them. */
public final class ETags {
    private ETags() {
    }

    /** An ETag's value: without W/ and quotes, lower case (null stays null). */
    public static String unquote(String etag) {
        if (etag == null) {
            return null;
        }
        String e = etag.strip();
        if (e.startsWith("W/")) {
            e = e.substring(2);
        }
        if (e.length() >= 2 && e.startsWith("\"") && e.endsWith("\"")) {
            e = e.substring(1, e.length() - 1);
        }
        return e.toLowerCase(Locale.ROOT);
    }
}
