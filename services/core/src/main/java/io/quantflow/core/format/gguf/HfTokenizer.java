package io.quantflow.core.format.gguf;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * A model's tokenizer.json run by Hugging Face's own tokenizers library (the Rust crate, through DJL's Java binding
 * {@code ai.djl.huggingface:tokenizers}, whose jar carries the native library for Linux x86-64 and arm64, macOS arm64
 * and Windows x86-64): the same code transformers' fast tokenizers call, so that its token ids are theirs. Truncation
 * and padding are off, as transformers' {@code encode} leaves them. DJL's telemetry is opted out of: a conversion
 * calls no one.
 */
final class HfTokenizer implements AutoCloseable {
    private static final Map<String, String> OPTIONS = Map.of("addSpecialTokens", "true", "truncation", "false", "padding", "false");

    static {
        // DJL asks the EC2 metadata endpoint and pings its telemetry bucket unless told not to.
        if (System.getenv("OPT_OUT_TRACKING") == null && System.getProperty("OPT_OUT_TRACKING") == null) {
            System.setProperty("OPT_OUT_TRACKING", "true");
        }
    }

    private final HuggingFaceTokenizer tokenizer;

    private HfTokenizer(HuggingFaceTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    static HfTokenizer open(Path tokenizerJson) {
        try {
            return new HfTokenizer(HuggingFaceTokenizer.newInstance(tokenizerJson, OPTIONS));
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot read " + tokenizerJson, e);
        } catch (UnsatisfiedLinkError | ExceptionInInitializerError | NoClassDefFoundError e) {
            throw QuantflowException.of(Reason.UNEXPECTED, "the tokenizers native library does not load on this platform ("
                    + System.getProperty("os.name") + " " + System.getProperty("os.arch") + "): " + e, e);
        } catch (RuntimeException e) {
            if (e instanceof QuantflowException q) {
                throw q;
            }
            if (e.getClass().getName().startsWith("ai.djl.engine")) {
                throw QuantflowException.of(Reason.UNEXPECTED, "the tokenizers native library does not load on this platform ("
                        + System.getProperty("os.name") + " " + System.getProperty("os.arch") + "): " + e.getMessage(), e);
            }
            String m = String.valueOf(e.getMessage());
            int nl = m.indexOf('\n');
            throw QuantflowException.of(Reason.TOKENIZER_MALFORMED, "tokenizer.json is not a tokenizer the tokenizers library loads ("
                    + (nl < 0 ? m : m.substring(0, nl)) + ")", e);
        }
    }

    /** The token ids of {@code text}, with the post-processor's special tokens when {@code addSpecialTokens}. */
    long[] encode(String text, boolean addSpecialTokens) {
        return tokenizer.encode(text, addSpecialTokens, false).getIds();
    }

    /** The text of {@code ids}, special tokens kept. */
    String decode(long[] ids) {
        return tokenizer.decode(ids, false);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
