package io.quantflow.core.convert;

import java.util.Locale;

/** The artifacts quantflow writes. This release writes {@link #BNB_4BIT}; the others follow with adapter support. */
public enum OutputFormat {
    BNB_4BIT("bnb-4bit");

    private final String id;

    OutputFormat(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    public static OutputFormat parse(String s) {
        for (OutputFormat f : values()) {
            if (f.id.equals(s.toLowerCase(Locale.ROOT))) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown format '" + s + "' (supported: bnb-4bit)");
    }
}
