package io.quantflow.core.format.gguf;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * A SentencePiece vocabulary from tokenizer.model (Llama 2, Mistral), as convert_hf_to_gguf.py's
 * {@code _set_vocab_sentencepiece} writes it: model "llama", pre "default", every piece with its score and type,
 * added_tokens.json and tokenizer_config.json's added tokens over them, [PAD{i}] up to config.json's vocab_size.
 */
final class SentencePieceVocab {
    private SentencePieceVocab() {
    }

    static void addTo(TokenizerFiles files, GgufMetadata kv) {
        SentencePieceModel model = files.sentencePieceModel();
        int vocabSize = vocabSize(files, model.pieces().size());
        String[] tokens = new String[vocabSize];
        float[] scores = new float[vocabSize];
        int[] types = new int[vocabSize];
        for (int i = 0; i < vocabSize; i++) {
            tokens[i] = "[PAD" + i + "]";
        }
        Arrays.fill(scores, -10000.0f);
        Arrays.fill(types, TokenType.UNUSED.id);
        for (int id = 0; id < Math.min(vocabSize, model.pieces().size()); id++) {
            SentencePieceModel.Piece p = model.pieces().get(id);
            tokens[id] = p.text();
            scores[id] = p.score();
            types[id] = switch (p.type()) {
                case UNKNOWN -> TokenType.UNKNOWN.id;
                case CONTROL -> TokenType.CONTROL.id;
                case UNUSED -> TokenType.UNUSED.id;
                case BYTE -> TokenType.BYTE.id;
                default -> TokenType.NORMAL.id; // user-defined pieces too: convert asks only the four above
            };
        }
        JsonNode added = files.addedTokensJson();
        if (added != null) {
            for (Iterator<Map.Entry<String, JsonNode>> it = added.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                int id = tokenId(e.getValue(), "added_tokens.json");
                if (id < vocabSize) {
                    tokens[id] = e.getKey();
                    scores[id] = -1000.0f;
                    types[id] = TokenType.USER_DEFINED.id;
                }
            }
        }
        JsonNode decoder = files.tokenizerConfig("added_tokens_decoder");
        if (decoder != null && decoder.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = decoder.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                int id = BpeVocab.parseId(e.getKey(), "tokenizer_config.json's added_tokens_decoder");
                if (id >= vocabSize) {
                    continue;
                }
                String token = e.getValue().path("content").asText();
                if (SpecialVocab.truthy(e.getValue().get("special")) || TokenType.looksSpecial(token)) {
                    types[id] = TokenType.CONTROL.id;
                } else {
                    token = token.replace('\u2581', ' ');
                    types[id] = TokenType.USER_DEFINED.id;
                }
                scores[id] = -1000.0f;
                tokens[id] = token;
            }
        }
        kv.putString("tokenizer.ggml.model", "llama");
        kv.putString("tokenizer.ggml.pre", "default");
        kv.putArray("tokenizer.ggml.tokens", GgufMetadata.ValueType.STRING, Arrays.asList(tokens));
        List<Float> s = new ArrayList<>(vocabSize);
        for (float f : scores) {
            s.add(f);
        }
        kv.putArray("tokenizer.ggml.scores", GgufMetadata.ValueType.FLOAT32, s);
        kv.putArray("tokenizer.ggml.token_type", GgufMetadata.ValueType.INT32, Arrays.stream(types).boxed().toList());
        new SpecialVocab(files, false, SpecialVocab.DEFAULT_TYPES, vocabSize).addTo(kv);
    }

    /** find_hparam(["vocab_size_per_layer_input", "vocab_size"]) or the model's size, as convert reads it. */
    private static int vocabSize(TokenizerFiles files, int pieces) {
        for (String key : List.of("vocab_size_per_layer_input", "vocab_size")) {
            JsonNode v = files.hparam(key);
            if (v != null) {
                if (SpecialVocab.truthy(v)) {
                    return BpeVocab.vocabSize(v);
                }
                break;
            }
        }
        return pieces;
    }

    private static int tokenId(JsonNode v, String where) {
        if (v == null || !v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < 0) {
            throw BpeVocab.malformed(where + " has a token id that is not one: " + v);
        }
        return v.intValue();
    }
}
