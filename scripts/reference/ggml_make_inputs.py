#!/usr/bin/env python3
"""Float32 inputs for the ggml quantizer references (scripts/reference/ggml_refs.sh).

Writes, into the directory given as the only argument:
  inputs.f32     the rows every type is quantized from: named cases of 2048 values each (awkward distributions:
                 zeros, constant blocks, huge/tiny/subnormal magnitudes, exact grids that tie in nearest_int, ...)
                 then 256 super-blocks each drawn from a random distribution (NaN-free)
  specials.f32   bit patterns for the float conversions only (F16, BF16): NaN payloads, infinities, rounding ties,
                 subnormals, overflow edges
  cases.txt      "name first_value count" per case of inputs.f32
Deterministic (fixed seed); numpy only.
"""
import sys
import numpy as np

CASE = 2048
rng = np.random.default_rng(20261203)


def bf16(a):
    b = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    b = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
    return b.astype(np.uint32).view(np.float32)


def blocks(n, size, f):
    return np.concatenate([f(i) for i in range(n // size)]).astype(np.float32)


cases = {}
cases["normal_0.02"] = rng.normal(0, 0.02, CASE)
cases["normal_1"] = rng.normal(0, 1, CASE)
cases["uniform"] = rng.uniform(-1, 1, CASE)
cases["positive"] = rng.uniform(0.1, 1, CASE)
cases["negative"] = rng.uniform(-1, -0.1, CASE)
cases["zeros"] = np.zeros(CASE)
cases["negative_zeros"] = np.full(CASE, -0.0)
cases["constant_pos"] = np.full(CASE, 0.37)
cases["constant_neg"] = np.full(CASE, -2.5)
cases["constant_per_16"] = blocks(CASE, 16, lambda i: np.full(16, rng.normal(0, 1)))
cases["constant_per_32"] = blocks(CASE, 32, lambda i: np.full(32, rng.normal(0, 1)))
cases["huge_1e37"] = rng.normal(0, 1, CASE) * 1e37
cases["huge_max"] = rng.choice([-1.0, 1.0], CASE) * rng.uniform(0.5, 1.0, CASE) * 3.4e38
cases["large_1e18"] = rng.normal(0, 1, CASE) * 1e18
cases["tiny_1e-30"] = rng.normal(0, 1, CASE) * 1e-30
cases["tiny_1e-20"] = rng.normal(0, 1, CASE) * 1e-20
cases["subnormal"] = (rng.normal(0, 1, CASE) * 1e-40).astype(np.float32)
cases["eps_edge"] = rng.normal(0, 1, CASE) * 1e-15
cases["scale_per_16"] = blocks(CASE, 16, lambda i: rng.normal(0, 1, 16) * 10.0 ** rng.uniform(-8, 4))
cases["scale_per_32"] = blocks(CASE, 32, lambda i: rng.normal(0, 1, 32) * 10.0 ** rng.uniform(-6, 3))
cases["sparse"] = np.where(rng.uniform(0, 1, CASE) < 0.05, rng.normal(0, 1, CASE), 0.0)
cases["one_outlier_per_32"] = blocks(CASE, 32, lambda i: np.where(np.arange(32) == rng.integers(32),
                                                                     rng.normal(0, 2), rng.normal(0, 0.02, 32)))
cases["single_nonzero_per_256"] = blocks(CASE, 256, lambda i: np.where(np.arange(256) == rng.integers(256),
                                                                          rng.normal(0, 1), 0.0))
cases["heavy_tail"] = rng.standard_t(2, CASE) * 0.02
cases["lognormal"] = rng.lognormal(0, 1, CASE)
cases["bf16_weights"] = bf16(rng.normal(0, 0.02, CASE))
cases["fp16_values"] = rng.normal(0, 1, CASE).astype(np.float16).astype(np.float32)
cases["int_grid"] = rng.integers(-8, 8, CASE) * 0.125
cases["int_grid_31"] = rng.integers(0, 32, CASE) * 0.0625 - 1.0
cases["int_grid_63"] = rng.integers(-32, 32, CASE) * 1.0
cases["half_steps"] = (rng.integers(-16, 16, CASE) + 0.5) / 3.0
cases["two_values"] = blocks(CASE, 32, lambda i: rng.choice(rng.normal(0, 1, 2), 32))
cases["ramp"] = blocks(CASE, 256, lambda i: np.linspace(-1, 1, 256))
cases["ramp_positive"] = blocks(CASE, 256, lambda i: np.linspace(0.001, 3, 256))
cases["alternating_zero_32"] = blocks(CASE, 32, lambda i: rng.normal(0, 1, 32) if i % 2 else np.zeros(32))
cases["alternating_zero_16"] = blocks(CASE, 16, lambda i: rng.normal(0, 1, 16) if i % 2 else np.zeros(16))
cases["positive_tiny_negative"] = np.where(np.arange(CASE) % 37 == 0, -1e-6, rng.uniform(0.5, 1.0, CASE))
cases["mean_shifted"] = rng.normal(5, 0.1, CASE)
cases["sign_max_negative"] = blocks(CASE, 32, lambda i: np.concatenate([[-3.0], rng.uniform(-1, 2.9, 31)]))


def random_superblock():
    std = 10.0 ** rng.uniform(-4, 2)
    kind = rng.integers(6)
    if kind == 0:
        v = rng.normal(0, std, 256)
    elif kind == 1:
        v = rng.normal(rng.uniform(-1, 1) * std, std, 256)
    elif kind == 2:
        v = np.abs(rng.normal(0, std, 256))
    elif kind == 3:
        v = rng.standard_t(3, 256) * std
    elif kind == 4:
        v = rng.uniform(-std, std, 256) * (10.0 ** rng.uniform(-3, 0, 256))
    else:
        v = rng.normal(0, std, 256) * np.repeat(10.0 ** rng.uniform(-2, 1, 16), 16)
    if rng.integers(2):
        v = bf16(v)
    return v.astype(np.float32)


out = sys.argv[1]
names, arrays = [], []
pos = 0
with open(out + "/cases.txt", "w") as f:
    for name, a in cases.items():
        a = np.asarray(a, dtype=np.float32)
        assert a.size == CASE and np.all(np.isfinite(a)), name
        f.write(f"{name} {pos} {CASE}\n")
        arrays.append(a)
        pos += CASE
    rnd = np.concatenate([random_superblock() for _ in range(256)])
    assert np.all(np.isfinite(rnd))
    f.write(f"random_superblocks {pos} {rnd.size}\n")
    arrays.append(rnd)
np.concatenate(arrays).astype("<f4").tofile(out + "/inputs.f32")

# float-conversion specials: bit patterns around every rounding decision of fp16 and bf16
bits = [0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001,
        0x7FBFFFFF, 0x7FFFFFFF, 0x7F812345, 0xFFA00001, 0x00000001, 0x80000001, 0x007FFFFF, 0x00800000,
        0x7F7FFFFF, 0xFF7FFFFF, 0x477FE000, 0x477FEFFF, 0x477FF000, 0x477FF001, 0x47800000, 0x33000000,
        0x33000001, 0x32FFFFFF, 0x33800000, 0x387FC000, 0x387FE000, 0x38800000, 0x3F808000, 0x3F818000,
        0x3F807FFF, 0x3F808001, 0x3F800FFF, 0x3F801000, 0x3F801001, 0x3F803000, 0x7F7F8000, 0x7F7F7FFF]
r = rng.integers(0, 2 ** 32, 4096 - len(bits), dtype=np.uint64)
# half the random patterns land on a tie of fp16 (low 13 bits 0x1000) or bf16 (low 16 bits 0x8000)
r[0::4] = (r[0::4] & ~np.uint64(0x1FFF)) | np.uint64(0x1000)
r[1::4] = (r[1::4] & ~np.uint64(0xFFFF)) | np.uint64(0x8000)
# and a quarter in fp16's range (exponents 100..150)
r[2::4] = (r[2::4] & np.uint64(0x807FFFFF)) | ((rng.integers(100, 150, r[2::4].size).astype(np.uint64)) << np.uint64(23))
np.concatenate([np.array(bits, dtype=np.uint64), r]).astype("<u4").tofile(out + "/specials.f32")
