package io.quantflow.core.ggml;

import java.util.Locale;

/**
 * The file types of llama.cpp ({@code enum llama_ftype} in {@code include/llama.h}) that quantflow writes: the value
 * of a GGUF file's {@code general.file_type} key, and what {@code llama-quantize} is asked for. Each has the ggml type
 * most of its weights get ({@link #baseType()}); which tensors get another type is {@link LlamaQuantMix}'s business.
 */
public enum GgufFileType {
    /** {@code LLAMA_FTYPE_ALL_F32}: every tensor float32. */
    ALL_F32(0, "MOSTLY_F32", "F32", GgmlType.F32),
    /** {@code LLAMA_FTYPE_MOSTLY_F16}. */
    F16(1, "MOSTLY_F16", "F16", GgmlType.F16),
    /** {@code LLAMA_FTYPE_MOSTLY_Q4_0}. */
    Q4_0(2, "MOSTLY_Q4_0", "Q4_0", GgmlType.Q4_0),
    /** {@code LLAMA_FTYPE_MOSTLY_Q8_0}. */
    Q8_0(7, "MOSTLY_Q8_0", "Q8_0", GgmlType.Q8_0),
    /** {@code LLAMA_FTYPE_MOSTLY_Q4_K_M}: Q4_K, with Q6_K for half the attn_v and ffn_down layers and the output. */
    Q4_K_M(15, "MOSTLY_Q4_K_M", "Q4_K_M", GgmlType.Q4_K),
    /** {@code LLAMA_FTYPE_MOSTLY_Q5_K_M}: Q5_K, with Q6_K for half the attn_v and ffn_down layers and the output. */
    Q5_K_M(17, "MOSTLY_Q5_K_M", "Q5_K_M", GgmlType.Q5_K),
    /** {@code LLAMA_FTYPE_MOSTLY_Q6_K}. */
    Q6_K(18, "MOSTLY_Q6_K", "Q6_K", GgmlType.Q6_K),
    /** {@code LLAMA_FTYPE_MOSTLY_BF16}. */
    BF16(32, "MOSTLY_BF16", "BF16", GgmlType.BF16);

    private final int id;
    private final String llamaName;
    private final String quantizeName;
    private final GgmlType baseType;

    GgufFileType(int id, String llamaName, String quantizeName, GgmlType baseType) {
        this.id = id;
        this.llamaName = llamaName;
        this.quantizeName = quantizeName;
        this.baseType = baseType;
    }

    /** The {@code llama_ftype} value ({@code general.file_type}). */
    public int id() {
        return id;
    }

    /** llama.h's name without the {@code LLAMA_FTYPE_} prefix, e.g. {@code MOSTLY_Q4_K_M}. */
    public String llamaName() {
        return llamaName;
    }

    /** The name {@code llama-quantize} takes and prints, e.g. {@code Q4_K_M} (also the usual file-name suffix). */
    public String quantizeName() {
        return quantizeName;
    }

    /** The ggml type of most 2-D weights. */
    public GgmlType baseType() {
        return baseType;
    }

    /** The file type of a {@code general.file_type} value. */
    public static GgufFileType ofId(int id) {
        for (GgufFileType t : values()) {
            if (t.id == id) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown llama file type id " + id);
    }

    /** The file type of {@code llama-quantize}'s name for it ({@code q4_k_m}, {@code Q8_0}, {@code bf16}; any case). */
    public static GgufFileType ofQuantizeName(String name) {
        String n = name.trim().toUpperCase(Locale.ROOT);
        for (GgufFileType t : values()) {
            if (t.quantizeName.equals(n) || t.name().equals(n)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown llama file type " + name);
    }
}
