#!/usr/bin/env python3
"""Extracts llama.cpp's table of BPE pre-tokenizers from convert_hf_to_gguf.py's get_vocab_base_pre.

convert_hf_to_gguf.py names the pre-tokenizer (tokenizer.ggml.pre) by the sha256 of str(token ids) of a check
string; this writes its check string and its hash -> name table (in source order: later lines win, as the Python
`if` chain does) to the resource quantflow's GgufVocab reads.

usage: pre_tokenizer_hashes.py LLAMA_CPP_SOURCE OUT_TSV
"""
import ast
import json
import re
import sys
from pathlib import Path

src = Path(sys.argv[1])
base = src / "conversion" / "base.py"
if not base.is_file():
    base = src / "convert_hf_to_gguf.py"
text = base.read_text(encoding="utf-8")
body = text[text.index("def get_vocab_base_pre"):text.index("# Marker: End get_vocab_base_pre")]
chktxt = ast.literal_eval(re.search(r"\n\s*chktxt = (.*)\n", body).group(1))
rows = []
for m in re.finditer(r'if chkhsh == "([0-9a-f]{64})":', body):
    name = re.match(r'\s*\n(?:\s*#[^\n]*\n)*\s*res = "([^"]+)"', body[m.end():])
    if name is None:
        sys.exit(f"no res = ... after {m.group(1)}")
    rows.append((m.group(1), name.group(1)))
with open(sys.argv[2], "w", encoding="utf-8", newline="\n") as f:
    f.write("# llama.cpp convert_hf_to_gguf.py get_vocab_base_pre: chkhsh<TAB>tokenizer.ggml.pre (later lines win)\n")
    f.write("# made by scripts/reference/pre_tokenizer_hashes.py from " + sys.argv[3] + "\n" if len(sys.argv) > 3 else "")
    f.write("chktxt\t" + json.dumps(chktxt) + "\n")
    for h, n in rows:
        f.write(f"{h}\t{n}\n")
print(f"{len(rows)} hashes, chktxt of {len(chktxt)} characters")
