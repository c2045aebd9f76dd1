#!/usr/bin/env python3
"""Fraction of ggml blocks that differ between two quantized outputs of the same input: ggml_block_diff.py TYPE a b"""
import sys

SIZES = {"f16": 2, "bf16": 2, "q8_0": 34, "q4_0": 18, "q5_0": 22, "q5_1": 24, "q4_K": 144, "q5_K": 176, "q6_K": 210}
t, a, b = sys.argv[1], open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read()
s = SIZES[t]
assert len(a) == len(b) and len(a) % s == 0
n = len(a) // s
d = sum(1 for i in range(n) if a[i * s:(i + 1) * s] != b[i * s:(i + 1) * s])
print(f"{t}: {d} of {n} blocks differ ({100.0 * d / n:.2f}%)")
