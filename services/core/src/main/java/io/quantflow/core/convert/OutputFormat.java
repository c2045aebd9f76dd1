package io.quantflow.core.convert;

import java.util.Locale;

/** The artifacts quantflow writes. */
public enum OutputFormat {
    /** A bitsandbytes 4-bit checkpoint of the source model. */
    BNB_4BIT("bnb-4bit", false),
    /** The adapter merged into the base, in 16 bit, with no quantization config. */
    MERGED_16BIT("merged-16bit", true),
    /** The adapter merged in 16 bit, then quantized as bnb-4bit. */
    MERGED_4BIT("merged-4bit", true),
    /** The adapter alone, validated against the base. */
    LORA("lora", true);

    private final String id;
    private final boolean needsAdapter;

    OutputFormat(String id, boolean needsAdapter) {
        this.id = id;
        this.needsAdapter = needsAdapter;
    }

    public String id() {
        return id;
    }

    public boolean needsAdapter() {
        return needsAdapter;
    }

    public static OutputFormat parse(String s) {
        for (OutputFormat f : values()) {
            if (f.id.equals(s.trim().toLowerCase(Locale.ROOT))) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown format '" + s + "' (bnb-4bit, merged-16bit, merged-4bit or lora)");
    }
}
