package io.quantflow.core.ggml;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * The ggml type {@code llama-quantize} gives each tensor of a model for a file type, without an importance matrix
 * and without overrides: a port of {@code src/llama-quant.cpp} ({@code tensor_allows_quantization},
 * {@code tensor_get_category}, {@code llama_tensor_get_type_impl}, {@code tensor_type_fallback}) for the file types
 * of {@link GgufFileType}.
 *
 * <p>What it decides, in short: 1-D tensors, norms, {@code ffn_gate_inp} and a few others keep the type they had in
 * the input file ({@code convert_hf_to_gguf.py} writes those as F32); for F32/F16/BF16 files every other weight gets
 * that type; for the quantized ones the base type, except: {@code output.weight} (and {@code token_embd.weight} when
 * the embeddings are tied, i.e. there is no {@code output.weight}) gets Q6_K, or Q8_0 when its rows are not a
 * multiple of the base type's block (or in Q8_0 files); for Q4_K_M and Q5_K_M, {@code attn_v} and {@code ffn_down} of
 * the {@code use_more_bits} layers (the first and last eighth and every third in between) get Q6_K; with 8 experts,
 * {@code attn_v} and {@code attn_k} get Q8_0 and (Q4_K_M) {@code attn_output} Q5_K; 70B Llama/Qwen2 models get Q5_K
 * for the other Q4_K {@code attn_v}; a row length that is not a multiple of the block falls back (Q4_K to Q5_0, Q5_K
 * to Q5_1, Q6_K to Q8_0, and to F16 if that does not fit either).
 *
 * <p>The counters of the C code ({@code i_attention_wv}, {@code i_ffn_down}) count tensors in llama.cpp's order
 * ({@link #LLAMA_ORDER}: the loader's {@code weights_map}, by layer number then name), which is also the order of
 * the tensors in {@code llama-quantize}'s output file; {@link #types} visits them in that order whatever the order
 * of its input.
 */
public final class LlamaQuantMix {
    /**
     * The facts about the model the C code reads.
     *
     * @param arch     {@code general.architecture} ({@code llama} for Llama and Mistral, {@code qwen2}, {@code qwen3},
     *                 {@code falcon}, ...)
     * @param nLayer   {@code block_count}
     * @param nHead    attention heads
     * @param nHeadKv  key/value heads
     * @param nExpert  experts of a mixture-of-experts model, 0 for a dense one
     */
    public record Model(String arch, int nLayer, int nHead, int nHeadKv, int nExpert) {
        public Model {
            Objects.requireNonNull(arch, "arch");
            if (nLayer <= 0) {
                throw new IllegalArgumentException("a model has at least one layer, not " + nLayer);
            }
        }

        /**
         * Whether llama.cpp's loader calls the model {@code LLM_TYPE_70B}, the only model type the mixes look at:
         * a Llama of 80 layers with grouped-query attention (not 8 experts), a Qwen2, Deci or OLMo of 80 layers, a
         * Jais2 of 68.
         */
        public boolean is70B() {
            return switch (arch) {
                case "llama" -> nExpert != 8 && nLayer == 80 && nHead != nHeadKv;
                case "qwen2", "deci", "olmo" -> nLayer == 80;
                case "jais2" -> nLayer == 68;
                default -> false;
            };
        }
    }

    /**
     * One tensor of the input file.
     *
     * @param name       its GGUF name ({@code blk.3.attn_v.weight})
     * @param ne         its dimensions in ggml's order: {@code ne[0]} is the row length (the last dimension of the
     *                   PyTorch shape)
     * @param sourceType its type in the file {@code llama-quantize} reads (what {@code convert_hf_to_gguf.py} wrote:
     *                   F32 for 1-D tensors and norms, the out-type for weights); kept where it is not quantized
     */
    public record Tensor(String name, long[] ne, GgmlType sourceType) {
        public Tensor {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(sourceType, "sourceType");
            ne = ne.clone();
            if (ne.length == 0 || ne.length > 4) {
                throw new IllegalArgumentException(name + ": a ggml tensor has 1 to 4 dimensions, not " + ne.length);
            }
        }

        @Override
        public long[] ne() {
            return ne.clone();
        }

        /** {@code ggml_n_dims}: dimensions up to the last one larger than 1 (at least 1). */
        int nDims() {
            for (int i = ne.length - 1; i >= 1; i--) {
                if (ne[i] > 1) {
                    return i + 1;
                }
            }
            return 1;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Tensor t && name.equals(t.name) && Arrays.equals(ne, t.ne) && sourceType == t.sourceType;
        }

        @Override
        public int hashCode() {
            return Objects.hash(name, Arrays.hashCode(ne), sourceType);
        }

        @Override
        public String toString() {
            return name + Arrays.toString(ne) + " " + sourceType;
        }
    }

    /**
     * llama.cpp's order of tensor names ({@code llama_model_loader::weight_name_comparer}): by the layer number of a
     * {@code blk.N.} prefix (names without one, such as {@code output.weight} and {@code token_embd.weight}, first),
     * then by name. The order the counters of the mixes run in, and the order of {@code llama-quantize}'s output.
     */
    public static final Comparator<String> LLAMA_ORDER = Comparator.comparingInt(LlamaQuantMix::layerOf)
            .thenComparing(Comparator.naturalOrder());

    private LlamaQuantMix() {
    }

    /** The type of each of {@code tensors} (same order as given) in a {@code fileType} file of {@code model}. */
    public static List<GgmlType> types(GgufFileType fileType, Model model, List<Tensor> tensors) {
        Integer[] order = new Integer[tensors.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> LLAMA_ORDER.compare(tensors.get(a).name(), tensors.get(b).name()));

        State s = new State(fileType, model);
        for (Tensor t : tensors) {
            Category c = Category.of(t.name());
            if (c.isAttnV()) {
                s.nAttentionWv++;
            }
            if (c == Category.OUTPUT) {
                s.hasTiedEmbeddings = false;
            }
        }
        GgmlType[] out = new GgmlType[tensors.size()];
        for (int i : order) {
            out[i] = s.typeOf(tensors.get(i));
        }
        return List.of(out);
    }

    /** The layer number of a {@code blk.N.} name ({@code sscanf(name, "blk.%d.")}), or -1 when it has none. */
    static int layerOf(String name) {
        Integer layer = parseLayer(name);
        return layer == null ? -1 : layer;
    }

    /** {@code sscanf(name, "blk.%d.", &layer) == 1 ? layer : null}. */
    static Integer parseLayer(String name) {
        if (!name.startsWith("blk.")) {
            return null;
        }
        int i = 4;
        boolean negative = false;
        if (i < name.length() && (name.charAt(i) == '-' || name.charAt(i) == '+')) {
            negative = name.charAt(i) == '-';
            i++;
        }
        int start = i;
        long v = 0;
        while (i < name.length() && name.charAt(i) >= '0' && name.charAt(i) <= '9' && v <= Integer.MAX_VALUE) {
            v = v * 10 + (name.charAt(i) - '0');
            i++;
        }
        if (i == start || v > Integer.MAX_VALUE) {
            return null;
        }
        return (int) (negative ? -v : v);
    }

    /** {@code tensor_category}: broad roles by name. */
    enum Category {
        OUTPUT, TOKEN_EMBD, ATTENTION_QKV, ATTENTION_KV_B, ATTENTION_V, ATTENTION_K, ATTENTION_Q, ATTENTION_OUTPUT,
        FFN_UP, FFN_GATE, FFN_DOWN, OTHER;

        static Category of(String n) {
            if (n.equals("output.weight")) {
                return OUTPUT;
            }
            if (n.equals("token_embd.weight") || n.equals("per_layer_token_embd.weight")) {
                return TOKEN_EMBD;
            }
            if (n.contains("attn_qkv.weight")) {
                return ATTENTION_QKV;
            }
            if (n.contains("attn_kv_b.weight")) {
                return ATTENTION_KV_B;
            }
            if (n.contains("attn_v.weight")) {
                return ATTENTION_V;
            }
            if (n.contains("attn_k.weight")) {
                return ATTENTION_K;
            }
            if (n.contains("attn_q.weight")) {
                return ATTENTION_Q;
            }
            if (n.contains("attn_output.weight")) {
                return ATTENTION_OUTPUT;
            }
            if (n.contains("ffn_up")) {
                return FFN_UP;
            }
            if (n.contains("ffn_gate")) {
                return FFN_GATE;
            }
            if (n.contains("ffn_down")) {
                return FFN_DOWN;
            }
            return OTHER;
        }

        /** {@code category_is_attn_v}: the tensors more sensitive to quantization. */
        boolean isAttnV() {
            return this == ATTENTION_V || this == ATTENTION_QKV || this == ATTENTION_KV_B;
        }
    }

    private static final String[] NOT_QUANTIZED = {"ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
        "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
        "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_v0.weight",
        "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight",
        "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
        "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_",
        ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd"};

    /** {@code tensor_allows_quantization} with llama-quantize's default parameters. */
    static boolean allowsQuantization(Tensor t) {
        if (t.nDims() < 2) {
            return false;
        }
        String name = t.name();
        // name.rfind("weight") == name.size() - 6, with C's unsigned wrap-around when "weight" is absent
        int r = name.lastIndexOf("weight");
        boolean quantize = r >= 0 ? r == name.length() - 6 : name.length() == 5;
        quantize &= !name.contains("_norm.weight");
        for (String s : NOT_QUANTIZED) {
            quantize &= !name.contains(s);
        }
        quantize &= !name.equals("position_embd.weight");
        quantize &= !name.equals("token_types.weight");
        return quantize;
    }

    private static boolean isQuantized(GgmlType t) {
        return t.blockSize() > 1;
    }

    /** {@code quantize_state_impl}: the counters, filled in order. */
    private static final class State {
        final GgufFileType ftype;
        final Model model;
        int nAttentionWv;
        int iAttentionWv;
        int iFfnDown;
        int iFfnGate;
        int iFfnUp;
        boolean hasTiedEmbeddings = true;

        State(GgufFileType ftype, Model model) {
            this.ftype = ftype;
            this.model = model;
        }

        /** {@code llama_tensor_get_type}. */
        GgmlType typeOf(Tensor t) {
            if (!allowsQuantization(t)) {
                return t.sourceType();
            }
            GgmlType newType = ftype.baseType();
            if (isQuantized(newType)) {
                newType = impl(newType, t, Category.of(t.name()));
                newType = fallback(t, newType);
            }
            return newType;
        }

        static boolean useMoreBits(int iLayer, int nLayers) {
            return iLayer < nLayers / 8 || iLayer >= 7 * nLayers / 8 || (iLayer - nLayers / 8) % 3 == 2;
        }

        /** {@code layer_info}: the counter, or with experts the layer number in the name. */
        int layer(int counter, String name) {
            if (Math.max(1, model.nExpert()) > 1) {
                Integer i = parseLayer(name);
                if (i == null) {
                    throw new IllegalArgumentException("Failed to determine layer for tensor " + name);
                }
                if (i < 0 || i >= model.nLayer()) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT,
                            "Bad layer %d for tensor %s. Must be in [0, %d)", i, name, model.nLayer()));
                }
                return i;
            }
            return counter;
        }

        /** {@code llama_tensor_get_type_impl}, the branches the file types of {@link GgufFileType} can reach. */
        GgmlType impl(GgmlType newType, Tensor t, Category category) {
            boolean falcon = model.arch().equals("falcon");
            int nLayer = model.nLayer();
            int nExpert = model.nExpert();
            if (category == Category.OUTPUT || (hasTiedEmbeddings && category == Category.TOKEN_EMBD)) {
                long nx = t.ne[0];
                if (falcon || nx % newType.blockSize() != 0) {
                    newType = GgmlType.Q8_0;
                } else if (newType != GgmlType.Q8_0) {
                    newType = GgmlType.Q6_K;
                }
            } else if (category == Category.TOKEN_EMBD) {
                // only the IQ, TQ and Q2_0 file types change the token embeddings
            } else if (category.isAttnV()) {
                if ((ftype == GgufFileType.Q4_K_M || ftype == GgufFileType.Q5_K_M)
                        && useMoreBits(iAttentionWv, nAttentionWv)) {
                    newType = GgmlType.Q6_K;
                }
                if (model.is70B() && (newType == GgmlType.Q3_K || newType == GgmlType.Q4_K)) {
                    newType = GgmlType.Q5_K;
                }
                if (nExpert == 8) {
                    newType = GgmlType.Q8_0;
                }
                ++iAttentionWv;
            } else if (category == Category.ATTENTION_K) {
                if (nExpert == 8) {
                    newType = GgmlType.Q8_0;
                }
            } else if (category == Category.ATTENTION_Q) {
                // only IQ3 file types change attn_q
            } else if (category == Category.FFN_DOWN) {
                int iLayer = layer(iFfnDown, t.name());
                if (ftype == GgufFileType.Q4_K_M) {
                    if (falcon) {
                        newType = iLayer < nLayer / 16 ? GgmlType.Q6_K
                                : useMoreBits(iLayer, nLayer) ? GgmlType.Q5_K : GgmlType.Q4_K;
                    } else if (useMoreBits(iLayer, nLayer)) {
                        newType = GgmlType.Q6_K;
                    }
                } else if (ftype == GgufFileType.Q5_K_M && useMoreBits(iLayer, nLayer)) {
                    newType = GgmlType.Q6_K;
                }
                ++iFfnDown;
            } else if (category == Category.ATTENTION_OUTPUT) {
                if (!falcon && nExpert == 8 && ftype == GgufFileType.Q4_K_M) {
                    newType = GgmlType.Q5_K;
                }
            } else if (category == Category.ATTENTION_QKV) {
                // unreachable in the C code too: attn_qkv is attn_v-like and taken above
                if (ftype == GgufFileType.Q4_K_M) {
                    newType = GgmlType.Q5_K;
                } else if (ftype == GgufFileType.Q5_K_M) {
                    newType = GgmlType.Q6_K;
                }
            } else if (category == Category.FFN_GATE) {
                layer(iFfnGate, t.name());
                ++iFfnGate;
            } else if (category == Category.FFN_UP) {
                layer(iFfnUp, t.name());
                ++iFfnUp;
            }
            return newType;
        }

        /** {@code tensor_type_fallback}: a type whose block divides the row length. */
        static GgmlType fallback(Tensor t, GgmlType target) {
            long ncols = t.ne[0];
            if (ncols % target.blockSize() == 0) {
                return target;
            }
            GgmlType r = switch (target) {
                case Q2_K, Q3_K -> GgmlType.Q4_0;
                case Q4_K -> GgmlType.Q5_0;
                case Q5_K -> GgmlType.Q5_1;
                case Q6_K -> GgmlType.Q8_0;
                default -> {
                    if (target.blockSize() <= 32) {
                        yield target;
                    }
                    throw new IllegalArgumentException("no tensor type fallback is defined for type " + target);
                }
            };
            return ncols % r.blockSize() != 0 ? GgmlType.F16 : r;
        }
    }

    /** The distinct types a file of {@code fileType} can hold, so that a writer can check it supports them all. */
    public static List<GgmlType> possibleTypes(GgufFileType fileType) {
        List<GgmlType> out = new ArrayList<>(List.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, fileType.baseType()));
        if (isQuantized(fileType.baseType())) {
            out.addAll(List.of(GgmlType.Q8_0, GgmlType.Q6_K, GgmlType.Q5_K, GgmlType.Q5_0, GgmlType.Q5_1));
        }
        return out.stream().distinct().toList();
    }
}
