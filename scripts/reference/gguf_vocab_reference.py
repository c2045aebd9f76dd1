#!/usr/bin/env python3
"""Reference tokenizer metadata for quantflow's GgufVocab, made by llama.cpp's own convert_hf_to_gguf.py.

For each case it builds a model directory (config.json of a tiny model of the architecture, the tokenizer files,
one tiny safetensors tensor), runs `convert_hf_to_gguf.py --vocab-only`, reads the GGUF back with gguf-py and writes,
for every tokenizer.* key in file order, its GGUF value type, element type and count, the sha256 of the entry's exact
bytes in the file (key, type and value as written) and, for scalars, the value. GgufVocabReferenceTest rebuilds the
same directories from the committed inputs and holds GgufVocab's entries to these, byte for byte.

Made with llama.cpp 80fb11ac73e6 (node-llama-cpp 3.21.1's bundle, tag v0.4.0), transformers, tokenizers and
sentencepiece of /work/pyenv (versions written into the output).

usage: PYTHONPATH=LLAMA/gguf-py python gguf_vocab_reference.py LLAMA_SRC INPUTS_DIR OUT_JSON [CASE...]
  INPUTS_DIR: the test resources (tokenizers/*.json.gz, cases.json, spm/*); CASE...: redo only these in OUT_JSON
"""
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import gguf
import sentencepiece
import tokenizers
import transformers

src, inputs, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
cases = json.loads((inputs / "cases.json").read_text(encoding="utf-8"))


def build(case: dict, d: Path) -> None:
    """The model directory of a case: the same steps GgufVocabReferenceTest takes in Java."""
    d.mkdir(parents=True)
    for name, source in case["files"].items():
        data = (inputs / source).read_bytes()
        if source.endswith(".gz"):
            data = gzip.decompress(data)
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
    for name, patch in case.get("patch", {}).items():
        j = json.loads((d / name).read_text(encoding="utf-8"))
        for k, v in patch.items():
            if v is None:
                j.pop(k, None)
            else:
                j[k] = v
        (d / name).write_text(json.dumps(j, ensure_ascii=False), encoding="utf-8")
    (d / "config.json").write_text(json.dumps(case["config"]), encoding="utf-8")
    # one tensor, so that the converter finds a safetensors model (--vocab-only writes none of it)
    hdr = json.dumps({"model.norm.weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    (d / "model.safetensors").write_bytes(len(hdr).to_bytes(8, "little") + hdr + b"\0\0\0\0")


def entries(path: Path) -> list:
    r = gguf.GGUFReader(path)
    rows = []
    for f in r.fields.values():
        if not f.name.startswith("tokenizer."):
            continue
        raw = b"".join(bytes(p.tobytes()) for p in f.parts)
        row = {"key": f.name, "type": f.types[0].name, "sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw)}
        if f.types[0] == gguf.GGUFValueType.ARRAY:
            row["elementType"] = f.types[-1].name
            row["count"] = len(f.data)
        else:
            v = f.contents()
            row["value"] = v if not isinstance(v, str) or len(v) <= 200 else v[:200] + "..."
        rows.append(row)
    return rows


result = {
    "llama.cpp": "80fb11ac73e6 (node-llama-cpp 3.21.1 bundle, tag v0.4.0)",
    "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
    "sentencepiece": sentencepiece.__version__, "cases": {},
}
only = sys.argv[4:]
if only:
    result["cases"] = json.loads(out.read_text(encoding="utf-8"))["cases"]
with tempfile.TemporaryDirectory() as tmp:
    for name, case in cases.items():
        if only and name not in only:
            continue
        d = Path(tmp) / name
        build(case, d)
        gg = Path(tmp) / (name + ".gguf")
        p = subprocess.run([sys.executable, str(src / "convert_hf_to_gguf.py"), "--vocab-only", "--outfile", str(gg), str(d)],
                           capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        if p.returncode != 0:
            result["cases"][name] = {"error": p.stderr.strip().splitlines()[-1]}
            print(name, "ERROR", p.stderr.strip().splitlines()[-1])
            continue
        result["cases"][name] = {"entries": entries(gg)}
        print(name, len(result["cases"][name]["entries"]), "tokenizer keys")
out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
