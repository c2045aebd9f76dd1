#!/usr/bin/env python3
"""Tensor bytes written by the real llama-quantize, for GgmlLlamaQuantizeBytesTest.

Converts the tiny-llama fixture with convert_hf_to_gguf.py --outtype bf16 (the vocabulary replaced by a dummy one, as
in ggml_mix_refs.py), quantizes it with llama-quantize (no importance matrix) to Q4_K_M, Q5_K_M, Q6_K, Q8_0 and Q4_0,
and writes OUT_DIR/<FTYPE>.<tensor>.<ggml type>.bin.gz with the data of two tensors that convert does not permute:
blk.0.attn_output.weight (Q4_K / Q5_K / Q6_K / Q8_0 / Q4_0) and blk.1.attn_v.weight (Q6_K in the K_M mixes).

  PYTHONPATH=/work/llama/src/gguf-py /work/pyenv/bin/python scripts/reference/ggml_quantize_bytes.py \
      /work/llama/src ../shared/fixtures/tiny-llama/base-bf16 services/core/src/test/resources/ggml/llama-quantize
"""
import gzip
import os
import re
import subprocess
import sys
import tempfile

LLAMA, TINY, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))
CONVERT = re.search(r"CONVERT = r'''(.*?)'''", open(os.path.join(HERE, "ggml_mix_refs.py")).read(), re.S).group(1)
TENSORS = ["blk.0.attn_output.weight", "blk.1.attn_v.weight"]


def main():
    from gguf import GGUFReader
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        src = os.path.join(work, "tiny.bf16.gguf")
        subprocess.run([sys.executable, "-c", CONVERT, LLAMA, TINY, "--outtype", "bf16", "--outfile", src],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for ftype in ["Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "Q4_0"]:
            dst = os.path.join(work, ftype + ".gguf")
            subprocess.run([os.path.join(LLAMA, "build/bin/llama-quantize"), src, dst, ftype, "1"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for t in GGUFReader(dst).tensors:
                if t.name in TENSORS:
                    name = f"{ftype}.{t.name}.{t.tensor_type.name}.bin.gz"
                    with gzip.GzipFile(os.path.join(OUT, name), "wb", mtime=0) as f:
                        f.write(bytes(t.data.tobytes()))
                    print(name, t.data.nbytes)


main()
