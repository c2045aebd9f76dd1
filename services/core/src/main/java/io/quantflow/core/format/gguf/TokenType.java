package io.quantflow.core.format.gguf;

/** GGUF's token types ({@code tokenizer.ggml.token_type}, written as INT32), with llama.cpp's numbers. */
enum TokenType {
    NORMAL(1), UNKNOWN(2), CONTROL(3), USER_DEFINED(4), UNUSED(5), BYTE(6);

    final int id;

    TokenType(int id) {
        this.id = id;
    }

    /**
     * convert_hf_to_gguf.py's {@code does_token_look_special}: added tokens some models forget to mark special
     * ({@code <|...|>}, {@code <｜...｜>}, {@code <unused...>}, {@code <pad>}, {@code <mask>}...).
     */
    static boolean looksSpecial(String token) {
        return token.equals("<pad>") || token.equals("<mask>") || token.equals("<2mass>") || token.equals("[@BOS@]")
                || token.startsWith("<|") && token.endsWith("|>")
                || token.startsWith("<\uFF5C") && token.endsWith("\uFF5C>")
                || token.startsWith("<unused") && token.endsWith(">");
    }
}
