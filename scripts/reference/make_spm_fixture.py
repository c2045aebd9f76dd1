#!/usr/bin/env python3
"""A tiny SentencePiece tokenizer.model for GgufVocab's tests, of every piece type llama.cpp distinguishes.

Trained (BPE with byte fallback, like Llama 2's) on a few English lines, with a user-defined and a control symbol;
one piece is then marked UNUSED in the ModelProto, as some released models have them.
usage: python make_spm_fixture.py OUT_DIR
"""
import io
import sys
from pathlib import Path

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

out = Path(sys.argv[1])
text = "\n".join([
    "The quick brown fox jumps over the lazy dog.",
    "A model converts tensors to a smaller format and keeps its tokenizer.",
    "Llamas and alpacas live in the mountains of South America.",
    "Numbers like 12, 345 and 6789 are split into digits.",
] * 20)
buf = io.BytesIO()
spm.SentencePieceTrainer.train(sentence_iterator=iter(text.splitlines()), model_writer=buf, vocab_size=400,
                               model_type="bpe", byte_fallback=True, user_defined_symbols=["<tool>"],
                               control_symbols=["<ctrl>"], character_coverage=1.0, num_threads=1, seed_sentencepiece_size=1000,
                               minloglevel=2, normalization_rule_name="identity")
m = pb.ModelProto()
m.ParseFromString(buf.getvalue())
m.pieces[-1].type = pb.ModelProto.SentencePiece.UNUSED
(out / "tokenizer.model").write_bytes(m.SerializeToString())
print(len(m.pieces), "pieces")
