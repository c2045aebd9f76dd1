package io.quantflow.core.format.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The special tokens, merges, add-bos/eos flags, chat templates and normalizer flags of a tokenizer, read as gguf-py's
 * {@code SpecialVocab} reads them (tokenizer.json, then tokenizer_config.json and the chat template files, then
 * config.json) and written in the order it writes them. Its quirks are kept on purpose: the same files must give the
 * same GGUF keys as {@code convert_hf_to_gguf.py}.
 */
final class SpecialVocab {
    static final List<String> DEFAULT_TYPES = List.of("bos", "eos", "unk", "sep", "pad", "cls", "mask");

    /** gguf-py's {@code add_<type>_token_id} handlers; a type without one (cls, prefix...) is not written. */
    private static final Map<String, String> ID_KEYS = Map.of(
            "bos", "tokenizer.ggml.bos_token_id", "eos", "tokenizer.ggml.eos_token_id",
            "unk", "tokenizer.ggml.unknown_token_id", "sep", "tokenizer.ggml.seperator_token_id",
            "pad", "tokenizer.ggml.padding_token_id", "mask", "tokenizer.ggml.mask_token_id",
            "eot", "tokenizer.ggml.eot_token_id", "eom", "tokenizer.ggml.eom_token_id");
    /** gguf-py's {@code add_add_<type>_token} handlers. */
    private static final Map<String, String> ADD_KEYS = Map.of(
            "bos", "tokenizer.ggml.add_bos_token", "eos", "tokenizer.ggml.add_eos_token", "sep", "tokenizer.ggml.add_sep_token");

    private final TokenizerFiles files;
    private final Integer nVocab;
    private final boolean loadMerges;
    private List<String> types;
    private List<String> merges = List.of();
    private final Map<String, Boolean> addSpecialToken = new LinkedHashMap<>();
    private final Map<String, Long> specialTokenIds = new LinkedHashMap<>();
    private JsonNode chatTemplate;
    private Boolean normalizerLowercase;
    private Boolean normalizerStripAccents;

    /**
     * @param types  the special token types looked for, in order ({@link #DEFAULT_TYPES} by default)
     * @param nVocab ids at or above it are skipped; null for no bound
     */
    SpecialVocab(TokenizerFiles files, boolean loadMerges, List<String> types, Integer nVocab) {
        this.files = files;
        this.loadMerges = loadMerges;
        this.types = List.copyOf(types);
        this.nVocab = nVocab;
        loadFromTokenizerJson();
        loadFromConfigJson();
        if (loadMerges && merges.isEmpty()) {
            merges = files.mergesTxt();
        }
    }

    /** gguf-py's {@code _set_special_token}: the first id of a type wins; ids out of range are skipped. */
    void setSpecialToken(String type, JsonNode id) {
        if (id == null || !id.isIntegralNumber()) {
            return;
        }
        if (id.canConvertToLong() && id.longValue() >= 0 && id.longValue() <= 0xFFFF_FFFFL) {
            long tid = id.longValue();
            if ((nVocab == null || tid < nVocab) && !specialTokenIds.containsKey(type)) {
                specialTokenIds.put(type, tid);
            }
            return;
        }
        throw QuantflowException.of(Reason.TOKENIZER_MALFORMED, "the " + type + " token id " + id + " is not a token id");
    }

    void setSpecialToken(String type, long id) {
        setSpecialToken(type, JsonNodeFactory.instance.numberNode(id));
    }

    /** gguf-py's {@code add_to_gguf}. */
    void addTo(GgufMetadata md) {
        if (!merges.isEmpty()) {
            md.putArray("tokenizer.ggml.merges", GgufMetadata.ValueType.STRING, merges);
        }
        specialTokenIds.forEach((type, id) -> {
            String key = ID_KEYS.get(type);
            if (key != null) {
                md.putUint32(key, id);
            }
        });
        addSpecialToken.forEach((type, add) -> {
            String key = ADD_KEYS.get(type);
            if (key != null) {
                md.putBool(key, add);
            }
        });
        if (chatTemplate != null) {
            addChatTemplate(md, chatTemplate);
        }
        if (normalizerLowercase != null) {
            md.putBool("tokenizer.ggml.normalizer.lowercase", normalizerLowercase);
        }
        if (normalizerStripAccents != null) {
            md.putBool("tokenizer.ggml.normalizer.strip_accents", normalizerStripAccents);
        }
    }

    /** gguf-py's {@code GGUFWriter.add_chat_template}: one template, or named ones with "default" as the main one. */
    private static void addChatTemplate(GgufMetadata md, JsonNode value) {
        if (value.isTextual()) {
            putString(md, "tokenizer.chat_template", value.textValue());
            return;
        }
        String fallback = null;
        // gguf-py collects the names in a Python set, whose order varies from run to run; first-seen order here.
        Set<String> names = new LinkedHashSet<>();
        for (JsonNode choice : value) {
            String name = sanitize(choice.path("name").asText(""));
            JsonNode template = choice.get("template");
            if (name.isEmpty() || template == null || template.isNull()) {
                continue;
            }
            if (name.equals("default")) {
                fallback = template.asText();
            } else {
                names.add(name);
                putString(md, "tokenizer.chat_template." + name, template.asText());
            }
        }
        if (!names.isEmpty()) {
            md.putArray("tokenizer.chat_templates", GgufMetadata.ValueType.STRING, List.copyOf(names));
        }
        if (fallback != null) {
            putString(md, "tokenizer.chat_template", fallback);
        }
    }

    private static String sanitize(String name) {
        StringBuilder b = new StringBuilder(name.length());
        name.codePoints().forEach(c -> b.append((c < 128 && Character.isLetterOrDigit(c)) ? (char) c : '_'));
        return b.toString();
    }

    /** gguf-py's {@code add_string}, which writes nothing for an empty string. */
    static void putString(GgufMetadata md, String key, String value) {
        if (!value.isEmpty()) {
            md.putString(key, value);
        }
    }

    private void parseNormalizer(JsonNode normalizer) {
        switch (normalizer.path("type").asText("")) {
            case "Lowercase" -> normalizerLowercase = true;
            case "StripAccents" -> normalizerStripAccents = true;
            case "BertNormalizer" -> {
                if (normalizer.has("lowercase")) {
                    normalizerLowercase = truthy(normalizer.get("lowercase")); // Python packs a bool by its truth
                }
                if (normalizer.has("strip_accents")) {
                    normalizerStripAccents = truthy(normalizer.get("strip_accents"));
                }
            }
            case "Sequence" -> normalizer.path("normalizers").forEach(this::parseNormalizer);
            default -> {
            }
        }
    }

    private void loadFromTokenizerJson() {
        JsonNode tokenizer = files.tokenizerJson();
        JsonNode addedTokens = JsonNodeFactory.instance.arrayNode();
        if (tokenizer != null) {
            if (loadMerges) {
                merges = mergesOf(tokenizer.path("model").get("merges"));
            }
            JsonNode normalizer = tokenizer.get("normalizer");
            if (truthy(normalizer)) {
                parseNormalizer(normalizer);
            }
            addedTokens = tokenizer.path("added_tokens");
        }
        JsonNode config = files.tokenizerConfig();
        ObjectNode tc = config instanceof ObjectNode o ? o.deepCopy() : null;
        if (truthy(tokenizer)) {
            readPostProcessor(tokenizer, tc);
        }
        if (!truthy(tc)) {
            return;
        }
        JsonNode template = tc.has("chat_template") ? tc.get("chat_template") : files.chatTemplateAlternative();
        if (template != null && (template.isTextual() || template.isArray())) {
            chatTemplate = template;
        }
        for (String type : types) {
            JsonNode add = tc.get("add_" + type + "_token");
            if (add != null && add.isBoolean()) {
                addSpecialToken.put(type, add.booleanValue());
            }
            JsonNode entry = tc.get(type + "_token");
            String content;
            if (entry != null && entry.isTextual()) {
                content = entry.textValue();
            } else if (entry != null && entry.isObject() && entry.path("content").isTextual()) {
                content = entry.get("content").textValue();
            } else {
                continue;
            }
            JsonNode id = null;
            for (JsonNode t : addedTokens) {
                if (content.equals(t.path("content").textValue())) {
                    id = t.get("id");
                    break;
                }
            }
            setSpecialToken(type, id);
        }
    }

    private static List<String> mergesOf(JsonNode merges) {
        if (merges == null || !merges.isArray() || merges.isEmpty()) {
            return List.of();
        }
        List<String> out = new ArrayList<>(merges.size());
        JsonNode first = merges.get(0);
        if (first.isTextual()) {
            for (JsonNode m : merges) {
                if (!m.isTextual()) {
                    throw QuantflowException.of(Reason.TOKENIZER_MALFORMED, "tokenizer.json mixes merge formats");
                }
                out.add(m.textValue());
            }
        } else if (first.isArray() && first.size() == 2 && first.get(0).isTextual()) {
            // transformers >= 4.45 writes pairs (a part may hold a space); gguf-py writes "a b" with spaces as U+0120
            for (JsonNode m : merges) {
                if (!m.isArray() || m.size() != 2 || !m.get(0).isTextual() || !m.get(1).isTextual()) {
                    throw QuantflowException.of(Reason.TOKENIZER_MALFORMED, "tokenizer.json has a merge that is not a pair: " + m);
                }
                out.add(m.get(0).textValue().replace(' ', '\u0120') + " " + m.get(1).textValue().replace(' ', '\u0120'));
            }
        } else {
            throw QuantflowException.of(Reason.TOKENIZER_MALFORMED, "tokenizer.json's merges are in an unknown format");
        }
        return out;
    }

    /** The post-processor's hints (RobertaProcessing, TemplateProcessing), which may rewrite {@code tc}'s tokens. */
    private void readPostProcessor(JsonNode tokenizer, ObjectNode tc) {
        JsonNode special = tc == null ? JsonNodeFactory.instance.objectNode() : tc;
        JsonNode bos = special.get("bos_token");
        JsonNode cls = special.get("cls_token");
        JsonNode eos = special.get("eos_token");
        JsonNode sep = special.get("sep_token");
        boolean config = truthy(tc);
        if (!truthy(bos) && truthy(cls) && config) {
            tc.set("bos_token", cls);
            bos = cls;
        }
        if (!truthy(eos) && truthy(sep) && config) {
            tc.set("eos_token", sep);
            eos = sep;
        }
        JsonNode post = tokenizer.get("post_processor");
        if (!truthy(post)) {
            return;
        }
        List<JsonNode> processors = new ArrayList<>();
        if (post.has("processors")) {
            post.get("processors").forEach(processors::add);
        } else {
            processors.add(post);
        }
        for (JsonNode processor : processors) {
            String type = processor.path("type").asText("");
            if (type.equals("RobertaProcessing")) {
                addSpecialToken.put("bos", true);
                addSpecialToken.put("eos", true);
                addSpecialToken.put("sep", true);
                if (!truthy(cls) && config) {
                    cls = processor.has("cls") ? processor.get("cls").get(0) : bos;
                    setOrNull(tc, "cls_token", cls);
                }
                if (!truthy(sep) && config) {
                    sep = processor.has("sep") ? processor.get("sep").get(0) : eos;
                    setOrNull(tc, "sep_token", sep);
                }
                continue;
            }
            if (!type.equals("TemplateProcessing")) {
                continue;
            }
            List<JsonNode> single = list(processor.get("single"));
            List<JsonNode> pair = list(processor.get("pair"));
            JsonNode first = null;
            JsonNode last = null;
            if (single.size() > 1) {
                first = specialId(single.getFirst());
                if (truthy(first)) {
                    if (!config) {
                        bos = first;
                    } else if (!first.equals(bos) && !first.equals(cls)) {
                        if (!truthy(bos)) {
                            tc.set("bos_token", first);
                            bos = first;
                        }
                        if (!truthy(cls)) {
                            tc.set("cls_token", first);
                            cls = first;
                        }
                    }
                    addSpecialToken.put("bos", first.equals(bos) || first.equals(cls));
                }
                last = specialId(single.getLast());
                if (truthy(last)) {
                    if (!config) {
                        eos = last;
                    } else if (!last.equals(eos)) {
                        if (!types.contains("eot")) {
                            types = append(types, "eot");
                            setOrNull(tc, "eot_token", eos);
                        } else if (!types.contains("eom")) {
                            types = append(types, "eom");
                            setOrNull(tc, "eom_token", eos);
                        }
                        tc.set("eos_token", last);
                        eos = last;
                    }
                    addSpecialToken.put("eos", last.equals(eos));
                }
            }
            if (!pair.isEmpty()) {
                int start = truthy(first) && first.equals(specialId(pair.getFirst())) ? 1 : 0;
                boolean stop = truthy(last) && last.equals(specialId(pair.getLast()));
                List<JsonNode> middle = pair.subList(Math.min(start, pair.size()), Math.max(Math.min(start, pair.size()),
                        pair.size() - (stop ? 1 : 0)));
                if (!middle.isEmpty()) {
                    JsonNode a = middle.getFirst().path("Sequence").get("id");
                    JsonNode b = middle.getLast().path("Sequence").get("id");
                    boolean ab = a != null && a.isTextual() && a.textValue().equals("A") && b != null && b.isTextual()
                            && b.textValue().equals("B");
                    List<JsonNode> inner = middle.size() >= 2 ? middle.subList(1, middle.size() - 1) : List.of();
                    if (ab && !inner.isEmpty()) {
                        boolean addSep = false;
                        JsonNode entry = specialId(inner.getFirst());
                        if (truthy(entry) && (entry.equals(sep) || entry.equals(eos)) && !truthy(last)) {
                            addSep = true;
                        }
                        if (inner.size() == 2) {
                            JsonNode second = specialId(inner.get(1));
                            if (truthy(second) && (second.equals(sep) || second.equals(eos))) {
                                addSep = true;
                            }
                        }
                        addSpecialToken.put("sep", addSep);
                        if (addSep && !truthy(sep) && config) {
                            setOrNull(tc, "sep_token", eos);
                        }
                    }
                }
            }
        }
    }

    private static void setOrNull(ObjectNode tc, String key, JsonNode v) {
        if (v == null) {
            tc.putNull(key);
        } else {
            tc.set(key, v);
        }
    }

    private static List<String> append(List<String> l, String s) {
        List<String> out = new ArrayList<>(l);
        out.add(s);
        return List.copyOf(out);
    }

    private static JsonNode specialId(JsonNode piece) {
        return piece.path("SpecialToken").get("id");
    }

    private static List<JsonNode> list(JsonNode n) {
        List<JsonNode> out = new ArrayList<>();
        if (n != null && n.isArray()) {
            n.forEach(out::add);
        }
        return out;
    }

    private void loadFromConfigJson() {
        JsonNode config = files.config();
        if (config == null) {
            return;
        }
        for (String type : types) {
            JsonNode id = config.get(type + "_token_id");
            if ((id == null || id.isNull()) && config.has("text_config")) {
                id = config.get("text_config").get(type + "_token_id");
            }
            setSpecialToken(type, id);
        }
    }

    /** Python's truth of a JSON value: null, false, 0, "" and empty containers are false. */
    static boolean truthy(JsonNode v) {
        if (v == null || v.isNull() || v.isMissingNode()) {
            return false;
        }
        if (v.isBoolean()) {
            return v.booleanValue();
        }
        if (v.isNumber()) {
            return v.doubleValue() != 0;
        }
        if (v.isTextual()) {
            return !v.textValue().isEmpty();
        }
        return !v.isEmpty();
    }

    @Override
    public String toString() {
        return "SpecialVocab[" + merges.size() + " merges, " + specialTokenIds + ", " + addSpecialToken + "]";
    }
}
