package io.quantflow.core.format.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * The tokenizer of a GGUF file: the {@code tokenizer.*} keys {@code convert_hf_to_gguf.py} writes for a model, in its
 * order and with its types, so that the key-value section comes out byte for byte the same. Read once, before any
 * conversion work, from the model directory's tokenizer files; a tokenizer llama.cpp does not know is refused then.
 *
 * <p>Which reader applies follows convert_hf_to_gguf.py's {@code set_vocab} of the architecture: Llama and Mistral
 * take tokenizer.model (SentencePiece), else a SentencePiece-style tokenizer.json, else a GPT-2 style one (Llama 3);
 * Qwen2 and Qwen3 take tokenizer.model, else a GPT-2 style tokenizer.json.
 */
public final class GgufVocab {
    private static final Set<String> LLAMA = Set.of("LlamaForCausalLM", "LLaMAForCausalLM", "LlamaModel", "MistralForCausalLM",
            "MixtralForCausalLM");
    private static final Set<String> QWEN2 = Set.of("Qwen2ForCausalLM", "Qwen2Model", "Qwen3ForCausalLM", "Qwen3Model");

    private final GgufMetadata kv;

    private GgufVocab(GgufMetadata kv) {
        this.kv = kv;
    }

    /**
     * Reads the tokenizer of the model in {@code modelDir}.
     *
     * @param config config.json as parsed (not flattened: text_config is read where convert reads it)
     * @throws QuantflowException UNSUPPORTED_MODEL for an architecture, tokenizer model or pre-tokenizer llama.cpp does
     *                            not know; INVALID_CHECKPOINT when there is no tokenizer or it is malformed
     */
    public static GgufVocab read(Path modelDir, JsonNode config) {
        String arch = architecture(config);
        boolean llama = LLAMA.contains(arch);
        if (!llama && !QWEN2.contains(arch)) {
            throw QuantflowException.of(Reason.TOKENIZER_UNSUPPORTED, "no GGUF tokenizer for architecture " + arch
                    + " (known: " + String.join(", ", LLAMA.stream().sorted().toList()) + ", "
                    + String.join(", ", QWEN2.stream().sorted().toList()) + ")");
        }
        TokenizerFiles files = new TokenizerFiles(modelDir, config);
        if (llama && files.has("tekken.json") && !files.has(TokenizerFiles.TOKENIZER_JSON)) {
            throw QuantflowException.of(Reason.TOKENIZER_UNSUPPORTED, "Mistral's tekken.json tokenizer without tokenizer.json is not supported");
        }
        if (!files.has(TokenizerFiles.TOKENIZER_MODEL) && !files.has(TokenizerFiles.TOKENIZER_JSON)) {
            throw QuantflowException.of(Reason.TOKENIZER_MISSING, modelDir + " has no tokenizer.json or tokenizer.model:"
                    + " a GGUF file carries the model's tokenizer");
        }
        GgufMetadata kv = new GgufMetadata();
        if (llama) {
            readLlama(files, kv);
        } else if (files.has(TokenizerFiles.TOKENIZER_MODEL)) {
            SentencePieceVocab.addTo(files, kv);
        } else {
            requireBpe(files);
            BpeVocab.addTo(files, kv);
        }
        return new GgufVocab(kv);
    }

    /** LlamaModel.set_vocab: add_space_prefix first, then the vocabulary, then CodeLlama's and Granite's extras. */
    private static void readLlama(TokenizerFiles files, GgufMetadata kv) {
        JsonNode tc = files.tokenizerConfig();
        if (tc != null) {
            JsonNode prefix = tc.get("add_prefix_space");
            if (prefix != null && !prefix.isNull()) {
                kv.putBool("tokenizer.ggml.add_space_prefix", SpecialVocab.truthy(prefix));
            }
            if ("HybridDNATokenizer".equals(tc.path("tokenizer_class").textValue())) {
                throw QuantflowException.of(Reason.TOKENIZER_UNSUPPORTED, "the HybridDNATokenizer tokenizer is not supported");
            }
        }
        if (files.has(TokenizerFiles.TOKENIZER_MODEL)) {
            SentencePieceVocab.addTo(files, kv);
        } else if (LlamaHfVocab.fit(files.tokenizerJson()) == LlamaHfVocab.Fit.LLAMA_HF) {
            LlamaHfVocab.addTo(files, kv);
        } else {
            requireBpe(files);
            BpeVocab.addTo(files, kv);
        }
        JsonNode vocabSize = files.hparam("vocab_size");
        long size = vocabSize != null && vocabSize.isIntegralNumber() ? vocabSize.longValue() : 32000;
        if (size == 32016) { // CodeLlama: its infill tokens; of them gguf-py writes only the end-of-turn one
            SpecialVocab infill = new SpecialVocab(files, false, List.of("prefix", "suffix", "middle", "eot"), null);
            infill.setSpecialToken("prefix", 32007);
            infill.setSpecialToken("suffix", 32008);
            infill.setSpecialToken("middle", 32009);
            infill.setSpecialToken("eot", 32010);
            infill.addTo(kv);
        }
        if (size == 49152) { // Granite's small models
            kv.putBool("tokenizer.ggml.add_bos_token", false);
        }
    }

    /** gguf-py reads a GPT-2 style tokenizer through transformers; quantflow takes byte-level BPE tokenizer.json only. */
    private static void requireBpe(TokenizerFiles files) {
        JsonNode json = files.tokenizerJson();
        if (json == null) {
            throw QuantflowException.of(Reason.TOKENIZER_MISSING, files.dir() + " has no tokenizer.json: a GGUF file carries the model's tokenizer");
        }
        String type = json.path("model").path("type").asText("?");
        if (!type.equals("BPE")) {
            throw QuantflowException.of(Reason.TOKENIZER_UNSUPPORTED, "tokenizer.json's model is " + type
                    + ": quantflow writes GGUF tokenizers of BPE and SentencePiece models");
        }
    }

    private static String architecture(JsonNode config) {
        JsonNode archs = config == null ? null : config.get("architectures");
        if (archs == null || !archs.isArray() || archs.isEmpty() || !archs.get(0).isTextual()) {
            throw QuantflowException.of(Reason.TOKENIZER_UNSUPPORTED, "config.json names no architecture: no GGUF tokenizer rules apply");
        }
        return archs.get(0).textValue();
    }

    /** Puts the tokenizer.* keys into {@code md} in convert_hf_to_gguf.py's order (a key already there keeps its place). */
    public void addTo(GgufMetadata md) {
        kv.entries().forEach(md::put);
    }

    /** tokenizer.ggml.pre: llama.cpp's name of the pre-tokenizer ("default" for SentencePiece). */
    public String preTokenizer() {
        GgufMetadata.Value v = kv.get("tokenizer.ggml.pre");
        return v == null ? null : (String) v.value();
    }

    /** tokenizer.ggml.model: "gpt2" (byte-level BPE) or "llama" (SentencePiece). */
    public String tokenizerModel() {
        return (String) kv.get("tokenizer.ggml.model").value();
    }

    /** The number of tokens written (config.json's vocab_size where the tokenizer is padded to it). */
    public int tokenCount() {
        return ((List<?>) kv.get("tokenizer.ggml.tokens").value()).size();
    }
}
