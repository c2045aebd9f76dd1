package io.quantflow.core.format.gguf;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** GgufVocab's refusals (one line, a stable code, before any work) and the SentencePiece model reader. */
class GgufVocabTest {
    private static final Path SPM = GgufVocabReferenceTest.VOCAB.resolve("spm/tokenizer.model");

    private static ObjectNode config(String arch) {
        ObjectNode c = GgufVocabReferenceTest.JSON.createObjectNode();
        c.putArray("architectures").add(arch);
        c.put("vocab_size", 400);
        return c;
    }

    private static QuantflowException refused(Path dir, ObjectNode config) {
        QuantflowException e = assertThrows(QuantflowException.class, () -> GgufVocab.read(dir, config));
        assertFalse(e.oneLine().contains("\n"), e.oneLine());
        return e;
    }

    @Test
    void aModelWithoutTokenizerIsRefusedInOneLine(@TempDir Path dir) {
        QuantflowException e = refused(dir, config("LlamaForCausalLM"));
        assertEquals(Reason.TOKENIZER_MISSING, e.reason());
        assertEquals(ErrorCode.INVALID_CHECKPOINT, e.code());
        assertTrue(e.getMessage().contains("no tokenizer.json or tokenizer.model"), e.getMessage());
    }

    @Test
    void anArchitectureWithoutVocabRulesIsUnsupportedByName(@TempDir Path dir) throws IOException {
        Files.copy(SPM, dir.resolve("tokenizer.model"));
        QuantflowException e = refused(dir, config("GPT2LMHeadModel"));
        assertEquals(ErrorCode.UNSUPPORTED_MODEL, e.code());
        assertTrue(e.getMessage().contains("GPT2LMHeadModel"), e.getMessage());
        assertEquals(ErrorCode.UNSUPPORTED_MODEL, refused(dir, GgufVocabReferenceTest.JSON.createObjectNode()).code());
    }

    @Test
    void aTokenizerModelOtherThanBpeIsUnsupportedByName(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", 0.0]]}}");
        QuantflowException e = refused(dir, config("Qwen2ForCausalLM"));
        assertEquals(Reason.TOKENIZER_UNSUPPORTED, e.reason());
        assertEquals(ErrorCode.UNSUPPORTED_MODEL, e.code());
        assertTrue(e.getMessage().contains("Unigram"), e.getMessage());
    }

    @Test
    void tekkenAloneIsUnsupported(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tekken.json"), "{}");
        Files.copy(SPM, dir.resolve("tokenizer.model"));
        assertEquals(Reason.TOKENIZER_UNSUPPORTED, refused(dir, config("MistralForCausalLM")).reason());
    }

    @Test
    void aMalformedTokenizerJsonIsAnInvalidCheckpoint(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": ");
        QuantflowException e = refused(dir, config("Qwen3ForCausalLM"));
        assertEquals(Reason.TOKENIZER_MALFORMED, e.reason());
        assertEquals(ErrorCode.INVALID_CHECKPOINT, e.code());
    }

    @Test
    void theSentencePieceReaderSeesEveryPieceType() throws IOException {
        SentencePieceModel m = SentencePieceModel.parse(Files.readAllBytes(SPM), "tokenizer.model");
        assertEquals(400, m.pieces().size());
        assertEquals(new SentencePieceModel.Piece("<unk>", 0f, SentencePieceModel.PieceType.UNKNOWN), m.pieces().get(0));
        assertEquals(new SentencePieceModel.Piece("<s>", 0f, SentencePieceModel.PieceType.CONTROL), m.pieces().get(1));
        assertEquals(new SentencePieceModel.Piece("<tool>", 0f, SentencePieceModel.PieceType.USER_DEFINED), m.pieces().get(4));
        assertEquals(new SentencePieceModel.Piece("<0x00>", 0f, SentencePieceModel.PieceType.BYTE), m.pieces().get(5));
        assertEquals(new SentencePieceModel.Piece("\u2581a", -1f, SentencePieceModel.PieceType.NORMAL), m.pieces().get(262));
        assertEquals(new SentencePieceModel.Piece("y", -138f, SentencePieceModel.PieceType.UNUSED), m.pieces().get(399));
    }

    @Test
    void aDamagedSentencePieceModelIsRefusedNeverMisread() throws IOException {
        byte[] good = Files.readAllBytes(SPM);
        for (int n = 0; n < good.length; n += 7) {
            byte[] cut = Arrays.copyOf(good, n);
            try {
                SentencePieceModel.parse(cut, "tokenizer.model");
            } catch (QuantflowException e) {
                assertEquals(Reason.TOKENIZER_MALFORMED, e.reason(), e.getMessage());
            }
        }
        Random r = new Random(14);
        for (int i = 0; i < 2000; i++) {
            byte[] bad = good.clone();
            bad[r.nextInt(bad.length)] = (byte) r.nextInt(256);
            try {
                SentencePieceModel.parse(bad, "tokenizer.model");
            } catch (QuantflowException e) {
                assertEquals(Reason.TOKENIZER_MALFORMED, e.reason(), e.getMessage());
            }
        }
        assertEquals(Reason.TOKENIZER_MALFORMED, assertThrows(QuantflowException.class,
                () -> SentencePieceModel.parse(new byte[0], "tokenizer.model")).reason());
    }

    @Test
    void thePreTokenizerHashIsOfPythonsTextOfTheIds() {
        // sha256("[]") and sha256("[128000, 1]"), as Python's hashlib gives them for str(list)
        assertEquals("4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945", PreTokenizers.hash(new long[0]));
        assertEquals(PreTokenizers.hash(new long[] {128000, 1}), KvBytes.sha256("[128000, 1]".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }
}
