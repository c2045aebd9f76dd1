"""bitsandbytes' 4-bit codes against a model of its kernel that uses the measured approximate reciprocal.

Makes reproducible random tensors (numpy's PCG64: the same values on any machine), quantizes them with
bitsandbytes (nf4 and fp4, blocksizes 64 and 4096, bf16 and f16), and prints the sha256 of the packed codes and
absmax, so that another implementation can be compared without moving the bytes. With --emulate it also models
the kernel in numpy, once with the reciprocal table and once with the correctly rounded reciprocal, and counts the
bytes that differ from bitsandbytes'.

  python parity.py gpu --table rcp-approx-delta.bin [--emulate] [--n 100000000]     (on a CUDA machine)
  python parity.py dump --dtype bf16 --n N OUT.raw                                    (the same input, anywhere)
"""
import argparse
import hashlib
import json
import sys

import numpy as np

SEED = 20261203


def make_input(n, dtype_name):
    """Normals scaled per 64-block by 2^k, k in [-24, 16): every exponent and mantissa of absmax shows up."""
    import torch
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal(n, dtype=np.float32)
    k = rng.integers(-24, 16, size=(n + 63) // 64)
    x *= np.repeat(np.exp2(k).astype(np.float32), 64)[:n]
    dtype = {"bf16": torch.bfloat16, "f16": torch.float16}[dtype_name]
    return torch.from_numpy(x).to(dtype)


def rcp_table(path):
    delta = np.fromfile(path, dtype=np.int8).astype(np.int64)
    m = (np.arange(1 << 23, dtype=np.uint32) | np.uint32(127 << 23)).view(np.float32)
    exact = (np.float32(1.0) / m).view(np.uint32).astype(np.int64)
    return (exact + delta).astype(np.uint32).view(np.float32)


def fp4_codes(y):
    a = np.abs(y)
    sign = np.where(y < 0, 8, 0)
    # dQuantizeFP4's tree, thresholds compared with >
    t = [np.float32(v) for v in (0.29166667, 0.583333, 0.8333333, 0.4166667, 0.0859375, 0.20833333, 0.00260417)]
    c = np.where(a > t[0],
                 np.where(a > t[1], np.where(a > t[2], 3, 2), np.where(a > t[3], 5, 4)),
                 np.where(a > t[4], np.where(a > t[5], 7, 6), np.where(a > t[6], 1, 0)))
    return (c + sign).astype(np.uint8)


def emulate_fp4(x32, blocksize, rcp):
    n = x32.size
    pad = (-n) % blocksize
    xb = np.concatenate([x32, np.zeros(pad, np.float32)]).reshape(-1, blocksize)
    absmax = np.abs(xb).max(axis=1).astype(np.float32)
    if rcp is None:
        inv = np.float32(1.0) / absmax
    else:
        bits = absmax.view(np.uint32)
        e = (bits >> 23).astype(np.int64)
        inv = np.ldexp(rcp[bits & 0x7FFFFF], (127 - e)).astype(np.float32)
        inv[inv < np.finfo(np.float32).tiny] = 0  # .ftz: a subnormal result, and 1/inf, are 0
        inv[e == 0] = np.inf                        # zero or subnormal absmax: 1/0
    y = (xb * inv[:, None]).reshape(-1)[:n]
    codes = fp4_codes(y)
    if codes.size % 2:
        codes = np.concatenate([codes, np.zeros(1, np.uint8)])
    return (codes[0::2] << 4 | codes[1::2]).astype(np.uint8), absmax


def sha(b):
    return hashlib.sha256(b).hexdigest()


def gpu(args):
    import torch
    import bitsandbytes.functional as F
    rcp = rcp_table(args.table) if args.table else None
    out = {}
    for dtype_name in ("bf16", "f16"):
        t = make_input(args.n, dtype_name)
        x32 = t.float().numpy()
        tc = t.cuda()
        for quant_type in ("fp4", "nf4"):
            for blocksize in (64, 4096):
                packed, state = F.quantize_4bit(tc, blocksize=blocksize, quant_type=quant_type, compress_statistics=False)
                torch.cuda.synchronize()
                p = packed.cpu().numpy().reshape(-1)
                a = state.absmax.float().cpu().numpy()
                key = f"{dtype_name}/{quant_type}/bs{blocksize}"
                row = {"packed": sha(p.tobytes()), "absmax": sha(a.tobytes()), "n": args.n}
                if args.emulate and quant_type == "fp4":
                    for name, table in (("table", rcp), ("exact", None)):
                        ep, ea = emulate_fp4(x32, blocksize, table)
                        row[f"differing_bytes_{name}"] = int((ep != p).sum())
                        row[f"absmax_equal_{name}"] = bool((ea.view(np.uint32) == a.view(np.uint32)).all())
                out[key] = row
                print(key, json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1, sort_keys=True)


def dump(args):
    make_input(args.n, args.dtype).view(__import__("torch").int16).numpy().tofile(args.out)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gpu")
    g.add_argument("--table")
    g.add_argument("--emulate", action="store_true")
    g.add_argument("--n", type=int, default=100_000_000)
    g.add_argument("--json")
    d = sub.add_parser("dump")
    d.add_argument("--dtype", choices=["bf16", "f16"], required=True)
    d.add_argument("--n", type=int, default=100_000_000)
    d.add_argument("out")
    args = ap.parse_args()
    {"gpu": gpu, "dump": dump}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
