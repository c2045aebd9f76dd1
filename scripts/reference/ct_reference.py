#!/usr/bin/env python3
"""Reference outputs of compressed-tensors FP8_DYNAMIC, FP8_BLOCK and NVFP4A16, as llm-compressor's model_free_ptq
writes them (llm-compressor ab1ba3e, compressed-tensors 0.18.0), for quantflow's byte-for-byte tests.

Neither package can be installed here, so this script restates, with torch's own CPU ops and casts, the code
path model_free_ptq runs for one weight (process_file / process_file_microscale_scheme):
  initialize_quantized_linear  -> scale params in the weight's dtype (initialize_qparams), no zero point
  calibrate_weight             -> MemorylessMinMaxObserver: amin/amax of flatten_for_calibration(weight)
                                  get_qparams -> generate_gparam (TENSOR_GROUP) -> calculate_qparams
  compress_module              -> NaiveQuantizationCompressor (float-quantized) or NVFP4PackedCompressor:
                                  quantize() -> _process_block/_process_group/_apply_quantize_op -> _quantize (CPU
                                  fallback, the torch ops below) -> round_to_quantized_type_args -> .to(fp8) /
                                  cast_to_fp4 (CPU) -> pack_fp4_to_uint8 (CPU)
Each function below names the one it restates; the order of operations and the dtype of every intermediate are theirs.

Usage: ct_reference.py SOURCE_DIR OUT_DIR   (writes <scheme>.safetensors with the quantized tensors, random-*.safetensors)
"""
import json
import math
import re
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

FP8 = torch.float8_e4m3fn
FP8_MAX = torch.finfo(FP8).max  # 448.0


# ---------------------------------------------------------------- compressed_tensors.quantization.utils.helpers
def calculate_qparams(min_vals, max_vals, q_min, q_max, scale_dtype=None, global_scale=None):
    min_vals = torch.min(min_vals, torch.zeros_like(min_vals))
    max_vals = torch.max(max_vals, torch.zeros_like(max_vals))
    bit_range = q_max - q_min
    max_val_pos = torch.max(torch.abs(min_vals), torch.abs(max_vals))
    scales = max_val_pos / (float(bit_range) / 2)
    if global_scale is not None:
        scales = global_scale * scales
    if scale_dtype is not None:
        finfo = torch.finfo(scale_dtype)
        scales = torch.clamp(scales, finfo.min, finfo.max).to(scale_dtype).to(scales.dtype)
    eps = 0.125 if scale_dtype == FP8 else torch.finfo(scales.dtype).eps
    scales = torch.where(scales == 0, torch.tensor(eps, dtype=scales.dtype), scales)
    return scales


def generate_gparam(updated_min_val, updated_max_val):
    min_vals = torch.min(updated_min_val, torch.zeros_like(updated_min_val))
    max_vals = torch.max(updated_max_val, torch.zeros_like(updated_max_val))
    max_val_pos = torch.max(torch.abs(min_vals), torch.abs(max_vals))
    max_val_pos = torch.clamp(max_val_pos, min=torch.finfo(max_val_pos.dtype).tiny)
    global_scale = FP8_MAX * 6.0 / max_val_pos
    global_scale = torch.nan_to_num(global_scale, nan=1.0, posinf=1.0, neginf=1.0)
    return global_scale.to(torch.float32).reshape([1])


def maybe_pad(t, block):
    rows, cols = t.shape
    pr = (block[0] - rows % block[0]) % block[0]
    pc = (block[1] - cols % block[1]) % block[1]
    if pr == 0 and pc == 0:
        return t
    return torch.nn.functional.pad(t, (0, pc, 0, pr), mode="constant", value=0)


# ---------------------------------------------------------------- compressed_tensors.quantization.utils.fp4_utils (CPU)
def cast_to_fp4(x):
    sign = torch.sign(x)
    x = torch.abs(x)
    x[(x >= 0.0) & (x <= 0.25)] = 0.0
    x[(x > 0.25) & (x < 0.75)] = 0.5
    x[(x >= 0.75) & (x <= 1.25)] = 1.0
    x[(x > 1.25) & (x < 1.75)] = 1.5
    x[(x >= 1.75) & (x <= 2.5)] = 2.0
    x[(x > 2.5) & (x < 3.5)] = 3.0
    x[(x >= 3.5) & (x <= 5.0)] = 4.0
    x[x > 5.0] = 6.0
    return x * sign


# ---------------------------------------------------------------- compressors.nvfp4.helpers (CPU)
def pack_fp4_to_uint8(x):
    m, n = x.shape
    sign = torch.signbit(x).to(torch.uint8)
    x = (x * 2).to(torch.int8).abs_()
    indices = torch.zeros_like(x, dtype=torch.uint8)
    indices[x == 1] = 1
    indices[x == 2] = 2
    indices[x == 3] = 3
    indices[x == 4] = 4
    indices[x == 6] = 5
    indices[x == 8] = 6
    indices[x >= 12] = 7
    indices = indices | (sign << 3)
    indices = indices.reshape(-1, 2)
    packed = indices[:, 0] | (indices[:, 1] << 4)
    return packed.reshape(m, n // 2)


# ---------------------------------------------------------------- quantization.lifecycle.forward_helpers._quantize
def _quantize(x, scale, q_min, q_max, num_bits, global_scale=None):
    if global_scale is not None:
        scale = scale / global_scale
    scaled = x / scale
    tensor = torch.clamp(scaled, q_min, q_max)  # round_to_quantized_type_args
    if num_bits == 8:
        rounded = tensor.to(FP8)
    else:
        rounded = cast_to_fp4(tensor)
    return rounded.to(tensor.dtype)


# ---------------------------------------------------------------- the three presets, one weight each
def fp8_channel(w):
    q_min, q_max = torch.tensor(-FP8_MAX), torch.tensor(FP8_MAX)
    observed = w.unsqueeze(-2).unsqueeze(0)                        # _flatten_weight, CHANNEL
    mn, mx = torch.amin(observed, dim=(0, -1)), torch.amax(observed, dim=(0, -1))
    scale = torch.empty((w.shape[0], 1), dtype=w.dtype)            # initialize_qparams: weight's dtype
    scale.copy_(calculate_qparams(mn, mx, q_min, q_max))
    q = _quantize(w, scale, q_min, q_max, 8).to(FP8)               # quantize(dtype=float8)
    return {"weight": q, "weight_scale": scale}


def fp8_block(w, block=(128, 128)):
    q_min, q_max = torch.tensor(-FP8_MAX), torch.tensor(FP8_MAX)
    v = maybe_pad(w, block)                                        # _flatten_weight, BLOCK
    rows, cols = v.shape
    br, bc = rows // block[0], cols // block[1]
    observed = v.reshape(br, block[0], bc, block[1]).transpose(1, 2).flatten(-2, -1).unsqueeze(0)
    mn, mx = torch.amin(observed, dim=(0, -1)), torch.amax(observed, dim=(0, -1))
    scale = torch.empty((math.ceil(w.shape[0] / block[0]), math.ceil(w.shape[1] / block[1])), dtype=w.dtype)
    scale.copy_(calculate_qparams(mn, mx, q_min, q_max))
    x = maybe_pad(w, block)                                        # NaiveQuantizationCompressor.compress, _process_block
    xb = x.reshape(br, block[0], bc, block[1]).transpose(1, 2)
    qb = _quantize(xb, scale.unsqueeze(-1).unsqueeze(-1), q_min, q_max, 8).to(FP8)
    q = qb.transpose(1, 2).reshape(x.shape)[: w.shape[0], : w.shape[1]]
    return {"weight": q.contiguous(), "weight_scale": scale}


def nvfp4_stats(w):
    observed = w.unflatten(-1, (-1, 16)).unsqueeze(0)             # _flatten_weight, TENSOR_GROUP
    return torch.amin(observed, dim=(0, -1)), torch.amax(observed, dim=(0, -1))


def nvfp4_global(stats):                                           # Observer.get_global_scale over the fused set
    global_absmax = stats[0][1].max()
    for mn, mx in stats:
        global_absmax = torch.max(global_absmax, -mn.min())
        global_absmax = torch.max(global_absmax, mx.max())
    return generate_gparam(-global_absmax.reshape(1), global_absmax.reshape(1))


def nvfp4(w, stats, global_scale):
    q_min, q_max = torch.tensor(-6.0), torch.tensor(6.0)
    mn, mx = stats
    scale = torch.empty((w.shape[0], w.shape[1] // 16), dtype=w.dtype)
    scale.copy_(calculate_qparams(mn, mx, q_min, q_max, scale_dtype=FP8, global_scale=global_scale))
    x = w.unflatten(-1, (w.shape[1] // 16, 16))                    # NVFP4PackedCompressor.compress, _process_group
    q = _quantize(x, scale.unsqueeze(-1), q_min, q_max, 4, global_scale=global_scale)
    q = q.flatten(start_dim=-2).to(w.dtype)
    return {"weight_packed": pack_fp4_to_uint8(q), "weight_scale": scale.to(FP8), "weight_global_scale": global_scale.clone()}


# ---------------------------------------------------------------- which tensors, and the fused sets
FUSED = [r"(.*(?:attn|attention))\.(q_proj|k_proj|v_proj)\.weight$", r"(.*(?:attn|attention))\.(wq_a|wkv_a_with_mqa)\.weight$",
         r"(.*mlp)\.(gate_proj|up_proj)\.weight$", r"(.*)\.(w1|w3)\.weight$"]


def quantizable(name, t, ignore):
    module, _, param = name.rpartition(".")
    if module.endswith("norm") or param != "weight" or t.ndim != 2:
        return False
    return not any(module == i for i in ignore)


def convert(tensors, scheme, ignore):
    out = {}
    names = [n for n in sorted(tensors) if quantizable(n, tensors[n], ignore)]
    if scheme == "NVFP4A16":
        sets = {}
        for n in names:
            key = n
            for p in FUSED:
                m = re.match(p, n)
                if m:
                    key = m.group(1) + "|" + p
                    break
            sets.setdefault(key, []).append(n)
        for members in sets.values():
            stats = {n: nvfp4_stats(tensors[n]) for n in members}
            g = nvfp4_global(list(stats.values()))
            for n in members:
                for k, v in nvfp4(tensors[n], stats[n], g).items():
                    out[n[: -len("weight")] + k] = v
    else:
        for n in names:
            fn = fp8_channel if scheme == "FP8_DYNAMIC" else fp8_block
            for k, v in fn(tensors[n]).items():
                out[n[: -len("weight")] + k] = v
    return out


def args(num_bits, strategy, group_size=None, block_structure=None, dynamic=False, observer="memoryless_minmax",
         scale_dtype=None):
    """QuantizationArgs.model_dump() of a preset after validate_model_after (zp_dtype serializes to None when symmetric)."""
    return {"num_bits": num_bits, "type": "float", "symmetric": True, "group_size": group_size, "strategy": strategy,
            "block_structure": block_structure, "dynamic": dynamic, "actorder": None, "scale_dtype": scale_dtype,
            "zp_dtype": None, "observer": observer, "observer_kwargs": {}}


PRESETS = {  # compressed_tensors.quantization.quant_scheme, with the format compress_module infers
    "FP8_DYNAMIC": ({"weights": args(8, "channel"), "input_activations": args(8, "token", dynamic=True, observer=None)},
                    "float-quantized"),
    "FP8_BLOCK": ({"weights": args(8, "block", block_structure=[128, 128]),
                   "input_activations": args(8, "group", group_size=128, dynamic=True, observer=None)}, "float-quantized"),
    "NVFP4A16": ({"weights": args(4, "tensor_group", group_size=16, scale_dtype="torch.float8_e4m3fn"),
                  "input_activations": None}, "nvfp4-pack-quantized"),
}


def quantization_config(scheme, ignore):
    """llmcompressor.entrypoints.model_free.save_utils.update_config for a preset name and an ignore list."""
    group, fmt = PRESETS[scheme]
    group = {"targets": ["Linear"], "weights": group["weights"], "input_activations": group["input_activations"],
             "output_activations": None, "format": fmt}
    return {"version": "0.18.0", "quant_method": "compressed-tensors", "transform_config": {},
            "config_groups": {scheme: group}, "kv_cache_scheme": None, "format": fmt, "quantization_status": "compressed",
            "global_compression_ratio": None, "ignore": ignore}


def main():
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    dst.mkdir(parents=True, exist_ok=True)
    tensors = load_file(src / "model.safetensors")
    ignore = ["lm_head", "model.embed_tokens"]
    for scheme in ("FP8_DYNAMIC", "FP8_BLOCK", "NVFP4A16"):
        save_file(convert(tensors, scheme, ignore), dst / f"tiny-llama-{scheme}.safetensors")
        # quantflow lists the modules it keeps by name; embeddings are not Linear layers, so only lm_head is listed
        with open(dst / f"tiny-llama-{scheme}.quantization_config.json", "w") as f:
            json.dump(quantization_config(scheme, ["lm_head"]), f, indent=2, sort_keys=True)
    # random tensors of awkward shapes in each 16/32-bit dtype, with an all-zero row, a tiny row and an outlier
    gen = torch.Generator().manual_seed(15)
    for dtype, name in ((torch.bfloat16, "bf16"), (torch.float16, "f16"), (torch.float32, "f32")):
        w = torch.randn((203, 336), generator=gen, dtype=torch.float32)
        w[5] = 0
        w[7] *= 1e-6
        w[11, 13] = 300.0
        w = w.to(dtype)
        src_t = {"layer.mlp.down_proj.weight": w}
        out = {"layer.mlp.down_proj.weight": w}
        for scheme in ("FP8_DYNAMIC", "FP8_BLOCK", "NVFP4A16"):
            for k, v in convert(src_t, scheme, []).items():
                out[scheme + "." + k] = v
        save_file(out, dst / f"random-{name}.safetensors")
    # every bf16 bit pattern (NaN and infinities aside): torch's cast to float8_e4m3fn after the clamp to +-448, and the
    # FP4 code of the value after the clamp to +-6 (cast_to_fp4 then pack_fp4_to_uint8, two values a byte)
    every = torch.arange(0, 65536, dtype=torch.int32).to(torch.int16).view(torch.bfloat16).to(torch.float32)
    every = torch.where(torch.isfinite(every), every, torch.zeros_like(every))
    fp8 = torch.clamp(every, -FP8_MAX, FP8_MAX).to(FP8).view(torch.uint8)
    fp4 = pack_fp4_to_uint8(cast_to_fp4(torch.clamp(every, -6.0, 6.0)).reshape(256, 256))
    save_file({"values": every, "fp8": fp8, "fp4": fp4.contiguous()}, dst / "every-bf16.safetensors")


if __name__ == "__main__":
    main()
