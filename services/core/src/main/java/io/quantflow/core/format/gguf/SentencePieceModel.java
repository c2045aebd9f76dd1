package io.quantflow.core.format.gguf;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The pieces of a SentencePiece {@code tokenizer.model}: the {@code ModelProto} message's repeated field 1, each a
 * piece (field 1, string), its score (field 2, float) and its type (field 3, enum; NORMAL when absent). The other
 * fields (trainer and normalizer specs) are skipped: {@code convert_hf_to_gguf.py} reads only the pieces. Read
 * strictly: every length is checked against what is left, and a wire type protobuf does not define is refused.
 */
record SentencePieceModel(List<Piece> pieces) {

    /** SentencePiece's piece types, with their numbers in the file (and in GGUF's token types). */
    enum PieceType {
        NORMAL(1), UNKNOWN(2), CONTROL(3), USER_DEFINED(4), UNUSED(5), BYTE(6);

        final int id;

        PieceType(int id) {
            this.id = id;
        }

        static PieceType of(long id, String file) {
            for (PieceType t : values()) {
                if (t.id == id) {
                    return t;
                }
            }
            throw malformed(file, "a piece of unknown type " + id);
        }
    }

    record Piece(String text, float score, PieceType type) {
    }

    SentencePieceModel {
        pieces = List.copyOf(pieces);
    }

    static SentencePieceModel parse(byte[] bytes, String file) {
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        List<Piece> pieces = new ArrayList<>();
        while (in.hasRemaining()) {
            long tag = varint(in, file);
            if (tag >>> 3 == 1 && (tag & 7) == 2) {
                pieces.add(piece(slice(in, file), file));
            } else {
                skip(in, (int) (tag & 7), file);
            }
        }
        if (pieces.isEmpty()) {
            throw malformed(file, "no pieces");
        }
        return new SentencePieceModel(pieces);
    }

    private static Piece piece(ByteBuffer in, String file) {
        String text = null;
        float score = 0f;
        PieceType type = PieceType.NORMAL;
        while (in.hasRemaining()) {
            long tag = varint(in, file);
            int field = (int) (tag >>> 3);
            int wire = (int) (tag & 7);
            if (field == 1 && wire == 2) {
                text = utf8(slice(in, file), file);
            } else if (field == 2 && wire == 5) {
                need(in, 4, file);
                score = in.getFloat();
            } else if (field == 3 && wire == 0) {
                type = PieceType.of(varint(in, file), file);
            } else {
                skip(in, wire, file);
            }
        }
        if (text == null) {
            throw malformed(file, "a piece without its text");
        }
        return new Piece(text, score, type);
    }

    private static void skip(ByteBuffer in, int wire, String file) {
        switch (wire) {
            case 0 -> varint(in, file);
            case 1 -> advance(in, 8, file);
            case 2 -> slice(in, file);
            case 5 -> advance(in, 4, file);
            default -> throw malformed(file, "protobuf wire type " + wire);
        }
    }

    private static ByteBuffer slice(ByteBuffer in, String file) {
        long n = varint(in, file);
        if (n > in.remaining()) {
            throw malformed(file, "a field of " + n + " bytes with " + in.remaining() + " left");
        }
        ByteBuffer s = in.slice(in.position(), (int) n).order(ByteOrder.LITTLE_ENDIAN);
        in.position(in.position() + (int) n);
        return s;
    }

    private static void advance(ByteBuffer in, int n, String file) {
        need(in, n, file);
        in.position(in.position() + n);
    }

    private static void need(ByteBuffer in, int n, String file) {
        if (in.remaining() < n) {
            throw malformed(file, "it ends inside a field");
        }
    }

    private static long varint(ByteBuffer in, String file) {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            need(in, 1, file);
            byte b = in.get();
            v |= (long) (b & 0x7f) << shift;
            if (b >= 0) {
                return v;
            }
        }
        throw malformed(file, "a varint longer than 10 bytes");
    }

    private static String utf8(ByteBuffer b, String file) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(b).toString();
        } catch (CharacterCodingException e) {
            throw malformed(file, "a piece that is not UTF-8");
        }
    }

    private static QuantflowException malformed(String file, String what) {
        return QuantflowException.of(Reason.TOKENIZER_MALFORMED, file + " is not a SentencePiece model: " + what);
    }
}
