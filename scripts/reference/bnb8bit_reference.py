#!/usr/bin/env python3
"""Reference outputs of bnb-8bit (LLM.int8): what transformers + bitsandbytes save for BitsAndBytesConfig(load_in_8bit=True).

Two modes:

  bnb8bit_reference.py cpu SOURCE_DIR OUT_DIR
      A CPU restatement (torch only) of bitsandbytes' path for one weight, for quantflow's tests while the GPU
      comparison is pending: Int8Params._quantize casts the weight to float16, then int8_vectorwise_quant
      (backends/default/ops.py: row absmax as float32, round(A * (127.0 / absmax)) to int8); transformers then saves
      weight (int8), SCB (float32) and weight_format (uint8 0). The CUDA kernel (csrc/kernels.cu kInt8VectorQuant)
      computes 127/absmax with __fdividef, an approximate division: its last bit may differ from this restatement.

  bnb8bit_reference.py gpu SOURCE_DIR OUT_DIR [QUANTFLOW_OUTPUT_DIR]
      On a CUDA machine with transformers and bitsandbytes: loads SOURCE_DIR with load_in_8bit=True, saves it to
      OUT_DIR, and when QUANTFLOW_OUTPUT_DIR is given compares every tensor byte for byte and config.json's
      quantization_config, then the logits of both loaded models on a fixed prompt, and prints the differences.
"""
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def int8_vectorwise_quant(A):
    """bitsandbytes/backends/default/ops.py, threshold 0."""
    row_stats = torch.max(A.abs(), dim=1).values.float()
    out_row = torch.round(A * (127.0 / row_stats.unsqueeze(-1))).to(torch.int8)
    return out_row, row_stats


def quantizable(name, t):
    module = name.rsplit(".", 1)[0]
    leaf = module.rsplit(".", 1)[-1]
    return (t.ndim == 2 and name.endswith(".weight") and leaf != "lm_head" and "embed" not in leaf
            and "norm" not in leaf)


def cpu(src, dst):
    dst.mkdir(parents=True, exist_ok=True)
    tensors = load_file(src / "model.safetensors")
    out = {}
    for name in sorted(tensors):
        if quantizable(name, tensors[name]):
            cb, scb = int8_vectorwise_quant(tensors[name].to(torch.float16))
            module = name[: -len("weight")]
            out[name] = cb
            out[module + "SCB"] = scb
            out[module + "weight_format"] = torch.tensor(0, dtype=torch.uint8)
    save_file(out, dst / "tiny-llama-int8.safetensors")
    gen = torch.Generator().manual_seed(8)
    rnd = {}
    for dtype, tag in ((torch.bfloat16, "bf16"), (torch.float16, "f16"), (torch.float32, "f32")):
        w = torch.randn((203, 336), generator=gen, dtype=torch.float32)
        w[5] = 0
        w[7] *= 1e-6
        w[11, 13] = 300.0
        w = w.to(dtype)
        cb, scb = int8_vectorwise_quant(w.to(torch.float16))
        rnd[f"{tag}.weight"] = w
        rnd[f"{tag}.int8"] = cb
        rnd[f"{tag}.SCB"] = scb
    save_file(rnd, dst / "random-int8.safetensors")


def gpu(src, dst, ours=None):
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    model = AutoModelForCausalLM.from_pretrained(src, quantization_config=BitsAndBytesConfig(load_in_8bit=True),
                                                 device_map="cuda")
    model.save_pretrained(dst)
    if ours is None:
        return
    ours = Path(ours)
    a, b = load_file(Path(dst) / "model.safetensors"), load_file(ours / "model.safetensors")
    print("tensor names equal:", sorted(a) == sorted(b))
    differing = 0
    for k in sorted(set(a) & set(b)):
        x, y = a[k].contiguous(), b[k].contiguous()
        same = x.dtype == y.dtype and x.shape == y.shape and torch.equal(x.view(torch.uint8).flatten() if x.ndim else x,
                                                                          y.view(torch.uint8).flatten() if y.ndim else y)
        if not same:
            differing += 1
            if x.dtype == y.dtype and x.shape == y.shape:
                n = (x.view(torch.uint8) != y.view(torch.uint8)).sum().item() if x.ndim else 1
                print(f"  {k}: {n} of {x.numel() * x.element_size()} bytes differ")
            else:
                print(f"  {k}: {x.dtype}{tuple(x.shape)} vs {y.dtype}{tuple(y.shape)}")
    print("tensors differing:", differing)
    qa = json.load(open(Path(dst) / "config.json"))["quantization_config"]
    qb = json.load(open(ours / "config.json"))["quantization_config"]
    print("quantization_config equal:", qa == qb, "" if qa == qb else (qa, qb))
    other = AutoModelForCausalLM.from_pretrained(ours, device_map="cuda")
    ids = torch.arange(1, 33, device="cuda").unsqueeze(0) % model.config.vocab_size
    with torch.no_grad():
        la, lb = model(ids).logits.float(), other(ids).logits.float()
    print("logits max |diff| / max |logit|:", ((la - lb).abs().max() / la.abs().max()).item())


if __name__ == "__main__":
    mode, src, dst = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    if mode == "cpu":
        cpu(src, dst)
    else:
        gpu(src, dst, sys.argv[4] if len(sys.argv) > 4 else None)
