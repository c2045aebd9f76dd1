package io.quantflow.core.format.gguf;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A SentencePiece-style BPE vocabulary from tokenizer.json alone (Llama 2 or Mistral without tokenizer.model), as
 * convert_hf_to_gguf.py's {@code _set_vocab_llama_hf} (gguf-py's {@code LlamaHfVocab}) writes it: model "llama", pre
 * "default", every token with score -1000, typed byte ({@code <0xNN>}), control (one of the tokenizer's special
 * tokens) or normal, then the added tokens past the model's vocab; no merges, no padding.
 */
final class LlamaHfVocab {
    private static final Pattern BYTE_TOKEN = Pattern.compile("<0x[0-9A-Fa-f]{2}>");
    private static final List<String> SPECIAL_KEYS = List.of("bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
            "cls_token", "mask_token");

    /** How gguf-py's LlamaHfVocab takes a tokenizer.json: its own, Llama 3's (BpeVocab), or not a Llama BPE one. */
    enum Fit { LLAMA_HF, LLAMA3, OTHER }

    private LlamaHfVocab() {
    }

    static Fit fit(JsonNode tokenizerJson) {
        JsonNode model = tokenizerJson.path("model");
        boolean bpe = model.path("type").asText("").equals("BPE");
        if (bpe && SpecialVocab.truthy(model.get("ignore_merges")) && !truthyOr(model.get("byte_fallback"), true)) {
            return Fit.LLAMA3;
        }
        JsonNode decoder = tokenizerJson.get("decoder");
        if (decoder == null || !decoder.isObject()) {
            return Fit.LLAMA3; // gguf-py fails on it with a TypeError, which sends it to the GPT-2 reader as well
        }
        if (!bpe || !truthyOr(model.get("byte_fallback"), false) || !decoder.path("type").asText("").equals("Sequence")) {
            return Fit.OTHER;
        }
        return Fit.LLAMA_HF;
    }

    private static boolean truthyOr(JsonNode v, boolean absent) {
        return v == null ? absent : SpecialVocab.truthy(v);
    }

    static void addTo(TokenizerFiles files, GgufMetadata kv) {
        BpeVocab.Vocab vocab = BpeVocab.Vocab.of(files.tokenizerJson());
        int base = vocab.modelSize();
        Set<Integer> specialIds = specialIds(files, vocab);
        List<String> tokens = new ArrayList<>();
        List<Integer> types = new ArrayList<>();
        for (int id = 0; id < base; id++) {
            String token = vocab.byId().get(id);
            if (token == null) {
                throw BpeVocab.malformed("tokenizer.json has no token of id " + id + " below its vocab size " + base);
            }
            tokens.add(token);
            types.add(type(id, token, specialIds));
        }
        Set<String> specials = specialTokens(files);
        vocab.addedById().entrySet().stream().filter(e -> e.getKey() >= base).sorted(Map.Entry.comparingByKey()).forEach(e -> {
            String token = e.getValue().get("content").textValue();
            tokens.add(token);
            if (specials.contains(token)) {
                Integer id = vocab.byToken().get(token);
                types.add(id != null && specialIds.contains(id) ? TokenType.CONTROL.id : TokenType.NORMAL.id);
            } else {
                types.add(TokenType.USER_DEFINED.id);
            }
        });
        kv.putString("tokenizer.ggml.model", "llama");
        kv.putString("tokenizer.ggml.pre", "default");
        kv.putArray("tokenizer.ggml.tokens", GgufMetadata.ValueType.STRING, tokens);
        kv.putArray("tokenizer.ggml.scores", GgufMetadata.ValueType.FLOAT32, Collections.nCopies(tokens.size(), -1000.0f));
        kv.putArray("tokenizer.ggml.token_type", GgufMetadata.ValueType.INT32, types);
        new SpecialVocab(files, false, SpecialVocab.DEFAULT_TYPES, tokens.size()).addTo(kv);
    }

    private static int type(int id, String token, Set<Integer> specialIds) {
        if (BYTE_TOKEN.matcher(token).matches()) {
            return TokenType.BYTE.id;
        }
        return specialIds.contains(id) ? TokenType.CONTROL.id : TokenType.NORMAL.id;
    }

    /**
     * transformers' {@code all_special_tokens}: the named special tokens of tokenizer_config.json (special_tokens_map.json
     * for those it lacks) and its additional special tokens.
     */
    private static Set<String> specialTokens(TokenizerFiles files) {
        Set<String> out = new HashSet<>();
        JsonNode tc = files.tokenizerConfig();
        JsonNode map = files.specialTokensMap();
        for (String key : SPECIAL_KEYS) {
            JsonNode v = tc != null && tc.has(key) ? tc.get(key) : map == null ? null : map.get(key);
            String content = content(v);
            if (content != null) {
                out.add(content);
            }
        }
        for (String key : List.of("additional_special_tokens", "extra_special_tokens")) {
            JsonNode v = tc != null && tc.has(key) ? tc.get(key) : map == null ? null : map.get(key);
            if (v != null && v.isArray()) {
                v.forEach(t -> {
                    String c = content(t);
                    if (c != null) {
                        out.add(c);
                    }
                });
            }
        }
        return out;
    }

    /** transformers' {@code all_special_ids}: the ids of the special tokens, the unknown token's for one not in the vocab. */
    private static Set<Integer> specialIds(TokenizerFiles files, BpeVocab.Vocab vocab) {
        Set<Integer> out = new HashSet<>();
        String unk = files.tokenizerJson().path("model").path("unk_token").textValue();
        for (String t : specialTokens(files)) {
            Integer id = vocab.byToken().get(t);
            if (id == null && unk != null) {
                id = vocab.byToken().get(unk);
            }
            if (id != null) {
                out.add(id);
            }
        }
        return out;
    }

    private static String content(JsonNode v) {
        if (v == null) {
            return null;
        }
        if (v.isTextual()) {
            return v.textValue();
        }
        return v.isObject() && v.path("content").isTextual() ? v.get("content").textValue() : null;
    }
}
