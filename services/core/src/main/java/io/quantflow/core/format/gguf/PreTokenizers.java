package io.quantflow.core.format.gguf;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * llama.cpp's names of BPE pre-tokenizers ({@code tokenizer.ggml.pre}), identified as {@code convert_hf_to_gguf.py}'s
 * {@code get_vocab_base_pre} identifies them: the sha256 of the Python text of the token ids ({@code "[1, 2, 3]"}) a
 * real tokenizer gives for llama.cpp's check string. The check string and the table are llama.cpp's, extracted by
 * scripts/reference/pre_tokenizer_hashes.py into {@code pre-tokenizer-hashes.tsv}.
 */
final class PreTokenizers {
    private static final String TABLE = "pre-tokenizer-hashes.tsv";
    private static final String CHECK_TEXT;
    private static final Map<String, String> NAMES;

    static {
        String check = null;
        Map<String, String> names = new LinkedHashMap<>();
        try (InputStream in = PreTokenizers.class.getResourceAsStream(TABLE)) {
            if (in == null) {
                throw new IllegalStateException(TABLE + " is not on the class path");
            }
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                int tab = line.indexOf('\t');
                String key = line.substring(0, tab);
                String value = line.substring(tab + 1);
                if (key.equals("chktxt")) {
                    check = new ObjectMapper().readValue(value, String.class);
                } else {
                    names.put(key, value); // later lines win, as the Python if-chain does
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (check == null || names.isEmpty()) {
            throw new IllegalStateException(TABLE + " lacks the check string or the table");
        }
        CHECK_TEXT = check;
        NAMES = Map.copyOf(names);
    }

    private PreTokenizers() {
    }

    static String checkText() {
        return CHECK_TEXT;
    }

    /** The hash of {@code ids} as convert_hf_to_gguf.py computes it: sha256 of Python's {@code str(list)}. */
    static String hash(long[] ids) {
        StringBuilder b = new StringBuilder(ids.length * 7 + 2).append('[');
        for (int i = 0; i < ids.length; i++) {
            if (i > 0) {
                b.append(", ");
            }
            b.append(ids[i]);
        }
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(b.append(']').toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** llama.cpp's name of the tokenizer's pre-tokenizer; UNSUPPORTED_MODEL when llama.cpp does not know its hash. */
    static String identify(HfTokenizer tokenizer) {
        String hash = hash(tokenizer.encode(CHECK_TEXT, true));
        String name = NAMES.get(hash);
        if (name == null) {
            throw QuantflowException.of(Reason.TOKENIZER_UNSUPPORTED, "the BPE pre-tokenizer of tokenizer.json is not one llama.cpp knows"
                    + " (check-string hash " + hash + "): llama.cpp could not run this model's tokenizer as trained");
        }
        return name;
    }
}
