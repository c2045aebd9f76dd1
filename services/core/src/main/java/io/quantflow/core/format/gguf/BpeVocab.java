package io.quantflow.core.format.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * A GPT-2 style byte-level BPE vocabulary from tokenizer.json (Llama 3, Qwen2/2.5/3), as convert_hf_to_gguf.py's
 * {@code _set_vocab_gpt2} writes it: model "gpt2", the pre-tokenizer llama.cpp knows it by, the tokens (added ones
 * typed control or user-defined, [PAD{i}] up to config.json's vocab_size), the types, then the merges and special
 * tokens. The real tokenizer (tokenizers through DJL) names the pre-tokenizer and re-reads the non-normalized added
 * tokens as transformers does.
 */
final class BpeVocab {
    private BpeVocab() {
    }

    static void addTo(TokenizerFiles files, GgufMetadata kv) {
        JsonNode json = files.tokenizerJson();
        Vocab vocab = Vocab.of(json);
        JsonNode size = files.hparam("vocab_size");
        int vocabSize = size == null ? vocab.byToken().size() : vocabSize(size);
        if (vocab.maxId() >= vocabSize) {
            throw malformed("tokenizer.json has token id " + vocab.maxId() + " but config.json's vocab_size is " + vocabSize);
        }
        boolean cleanUp = SpecialVocab.truthy(files.tokenizerConfig("clean_up_tokenization_spaces"));
        List<String> tokens = new ArrayList<>(vocabSize);
        List<Integer> types = new ArrayList<>(vocabSize);
        String pre;
        try (HfTokenizer tokenizer = HfTokenizer.open(files.dir().resolve(TokenizerFiles.TOKENIZER_JSON))) {
            pre = PreTokenizers.identify(tokenizer);
            for (int i = 0; i < vocabSize; i++) {
                String token = vocab.byId().get(i);
                if (token == null) {
                    tokens.add("[PAD" + i + "]");
                    types.add(TokenType.UNUSED.id);
                    continue;
                }
                JsonNode added = vocab.addedByContent().get(token);
                if (added == null) {
                    types.add(TokenType.NORMAL.id);
                } else {
                    // llama.cpp expects control and user-defined tokens pre-normalized: transformers' encode/decode
                    JsonNode decoder = vocab.addedById().get(i);
                    if (decoder != null && !decoder.path("normalized").asBoolean(false)) {
                        token = roundTrip(tokenizer, token, cleanUp);
                    }
                    if (decoder != null && decoder.path("special").asBoolean(false) || TokenType.looksSpecial(token)) {
                        types.add(TokenType.CONTROL.id);
                    } else {
                        token = token.replace('\u2581', ' ');
                        types.add(TokenType.USER_DEFINED.id);
                    }
                }
                tokens.add(token);
            }
        }
        kv.putString("tokenizer.ggml.model", "gpt2");
        SpecialVocab.putString(kv, "tokenizer.ggml.pre", pre);
        kv.putArray("tokenizer.ggml.tokens", GgufMetadata.ValueType.STRING, tokens);
        kv.putArray("tokenizer.ggml.token_type", GgufMetadata.ValueType.INT32, types);
        new SpecialVocab(files, true, SpecialVocab.DEFAULT_TYPES, null).addTo(kv);
    }

    private static String roundTrip(HfTokenizer tokenizer, String token, boolean cleanUp) {
        String text = tokenizer.decode(tokenizer.encode(token, false));
        return cleanUp ? cleanUpTokenizationSpaces(text) : text;
    }

    /** transformers' {@code clean_up_tokenization}, applied by its decode when the tokenizer config asks. */
    static String cleanUpTokenizationSpaces(String s) {
        return s.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",").replace(" ' ", "'")
                .replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s").replace(" 've", "'ve").replace(" 're", "'re");
    }

    /**
     * tokenizer.json's vocabulary as transformers' fast tokenizer shows it: the model's vocab and the added tokens
     * ({@code get_vocab()}), id to token (an added token over a model token of the same id), and the added tokens
     * by content and by id ({@code get_added_vocab()}, {@code added_tokens_decoder}).
     */
    record Vocab(Map<String, Integer> byToken, Map<Integer, String> byId, Map<String, JsonNode> addedByContent,
                 Map<Integer, JsonNode> addedById, int modelSize, int maxId) {

        static Vocab of(JsonNode json) {
            JsonNode model = json.path("model");
            JsonNode vocab = model.get("vocab");
            if (vocab == null || !vocab.isObject()) {
                throw malformed("tokenizer.json's model has no vocab object (model type " + model.path("type").asText("?") + ")");
            }
            Map<String, Integer> byToken = new HashMap<>(vocab.size() * 2);
            Map<Integer, String> byId = new HashMap<>(vocab.size() * 2);
            int maxId = -1;
            for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                int id = id(e.getValue(), "tokenizer.json's vocab");
                byToken.put(e.getKey(), id);
                byId.put(id, e.getKey());
                maxId = Math.max(maxId, id);
            }
            int modelSize = byToken.size();
            Map<String, JsonNode> addedByContent = new HashMap<>();
            Map<Integer, JsonNode> addedById = new HashMap<>();
            for (JsonNode t : json.path("added_tokens")) {
                String content = t.path("content").textValue();
                if (content == null) {
                    throw malformed("tokenizer.json has an added token without content");
                }
                int id = id(t.get("id"), "tokenizer.json's added_tokens");
                byToken.put(content, id);
                byId.put(id, content);
                addedById.put(id, t);
                maxId = Math.max(maxId, id);
            }
            // get_added_vocab() is built from added_tokens_decoder sorted by id: a content given twice keeps its last id
            addedById.entrySet().stream().sorted(Map.Entry.comparingByKey())
                    .forEach(e -> addedByContent.put(e.getValue().get("content").textValue(), e.getValue()));
            return new Vocab(byToken, byId, addedByContent, addedById, modelSize, maxId);
        }
    }

    static int vocabSize(JsonNode v) {
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() <= 0) {
            throw QuantflowException.of(Reason.JSON_MALFORMED, "config.json's vocab_size is not a positive integer: " + v);
        }
        return v.intValue();
    }

    private static int id(JsonNode v, String where) {
        if (v == null || !v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < 0) {
            throw malformed(where + " has a token id that is not one: " + v);
        }
        return v.intValue();
    }

    static int parseId(String s, String where) {
        try {
            int id = Integer.parseInt(s.strip());
            if (id >= 0) {
                return id;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw malformed(where + " has a token id that is not one: " + s);
    }

    static QuantflowException malformed(String message) {
        return QuantflowException.of(Reason.TOKENIZER_MALFORMED, message);
    }
}
