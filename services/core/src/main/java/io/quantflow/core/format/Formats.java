package io.quantflow.core.format;

import io.quantflow.core.format.bnb4bit.Bnb4bitFormat;
import io.quantflow.core.format.bnb8bit.Bnb8bitFormat;
import io.quantflow.core.format.ct.CtFormat;
import io.quantflow.core.format.lora.LoraFormat;
import io.quantflow.core.format.merged16bit.Merged16bitFormat;
import io.quantflow.core.format.merged4bit.Merged4bitFormat;

import java.util.List;
import java.util.Locale;

/** Every output format quantflow writes: adding a format is one package and one line here. */
public final class Formats {
    public static final OutputFormat BNB_4BIT = Bnb4bitFormat.INSTANCE;
    public static final OutputFormat MERGED_16BIT = Merged16bitFormat.INSTANCE;
    public static final OutputFormat MERGED_4BIT = Merged4bitFormat.INSTANCE;
    public static final OutputFormat LORA = LoraFormat.INSTANCE;
    public static final OutputFormat CT_FP8_DYNAMIC = CtFormat.FP8_DYNAMIC;
    public static final OutputFormat CT_FP8_BLOCK = CtFormat.FP8_BLOCK;
    public static final OutputFormat CT_NVFP4A16 = CtFormat.NVFP4A16;
    public static final OutputFormat BNB_8BIT = Bnb8bitFormat.INSTANCE;

    private static final List<OutputFormat> ALL = List.of(BNB_4BIT, MERGED_16BIT, MERGED_4BIT, LORA,
            CT_FP8_DYNAMIC, CT_FP8_BLOCK, CT_NVFP4A16, BNB_8BIT);

    private Formats() {
    }

    /** Every format, in the order help texts list them. */
    public static List<OutputFormat> all() {
        return ALL;
    }

    /** The format with this id (case and surrounding blanks ignored). */
    public static OutputFormat parse(String s) {
        String id = s.trim().toLowerCase(Locale.ROOT);
        for (OutputFormat f : ALL) {
            if (f.id().equals(id)) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown format '" + s + "' (" + idList() + ")");
    }

    /** {@code bnb-4bit, merged-16bit, merged-4bit or lora}. */
    public static String idList() {
        List<String> ids = ALL.stream().map(OutputFormat::id).toList();
        return String.join(", ", ids.subList(0, ids.size() - 1)) + " or " + ids.get(ids.size() - 1);
    }
}
