// quantflow's CUDA kernels: blockwise 4-bit quantization (nf4, fp4) of bf16/f16/f32 values and the
// dequantization back to them. Built to PTX by build.sh; the PTX is committed as a resource of
// services/core and loaded with cuModuleLoadData (see docs/adr/0005-gpu-kernels-as-committed-ptx.md).
//
// Arithmetic is IEEE float32 throughout, as in the Java reference (ScalarBlockwiseQuantizer):
//   absmax = largest |x| of the block, NaN ignored (fmaxf skips NaN; a block of zeros/NaN gives +0)
//   inv    = rcp.approx.ftz(absmax) the GPU's approximate reciprocal, which bitsandbytes' kernels take
//                                   (built with --use_fast_math); the Java side reads it from a table
//                                   measured on the GPU (BnbReciprocal)
//   s      = __fmul_rn(x, inv)      rounded product, never contracted into an FMA
//   code   = the reference's code of s, looked up in a table (below)
// No fast math, no flush to zero but in that one instruction: every other operation above is written with an
// explicit rounding mode, so the PTX means the same thing whatever options the driver's JIT compiler is given.
//
// The code table. A value's 4-bit code depends only on s, and the thresholds between codes are
// few and far apart: within each group of floats that share their top 11 bits (sign, exponent and
// two mantissa bits), at most one threshold falls. So for each of the 2048 groups the host builds
// (from the Java reference encoder, see CodeTable.java) the bit pattern R at which the code changes
// and the code below and above it; here the code of s is "bits(s) > R[group] ? hi : lo", two shared
// memory loads and a compare per value. The table is exact for every 32-bit pattern, NaN and the
// infinities included, and a test on the host holds it to the reference encoder for all 2^32 of them.
//
// Work layout: one thread holds 8 consecutive values (one 16-byte load of bf16/f16, two of f32) and
// writes their 4 packed bytes with one 4-byte store; blocksize/8 consecutive threads share a block
// and reduce its absmax with warp shuffles (and shared memory beyond 256 values). A CTA has
// max(256, blocksize/8) threads and walks tiles of 8 values per thread, grid-stride, loading the
// next tile (the _ahead2 kernels: the next two) before working on the current one.

#include <cuda_fp16.h>
#include <stdint.h>

#define QF_BUCKETS 2048
#define QF_MAX_THREADS 512
#define QF_FULL_MASK 0xffffffffu

namespace qf {

enum DType { BF16 = 0, F16 = 1, F32 = 2 };

// Eight input values as raw bits: bf16/f16 fill a, f32 fills a and b.
struct Raw8 {
    uint4 a;
    uint4 b;
};

template <int DT>
__device__ __forceinline__ Raw8 load8(const void* in, uint32_t e0, uint32_t n) {
    Raw8 r;
    r.a = make_uint4(0u, 0u, 0u, 0u);
    r.b = make_uint4(0u, 0u, 0u, 0u);
    if (e0 + 8 <= n) {
        if (DT == F32) {
            const uint4* p = reinterpret_cast<const uint4*>(static_cast<const float*>(in) + e0);
            r.a = __ldcs(p);
            r.b = __ldcs(p + 1);
        } else {
            r.a = __ldcs(reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(in) + e0));
        }
    } else if (e0 < n) {
        // the tensor's last, partial group of 8: missing values read as +0.0, which changes no
        // absmax and gives the padding nibble the code of 0.0f * inv, as the reference does
        uint32_t w[8];
#pragma unroll
        for (int j = 0; j < 8; j++) {
            w[j] = 0u;
            if (e0 + j < n) {
                w[j] = DT == F32 ? __float_as_uint(static_cast<const float*>(in)[e0 + j])
                                 : static_cast<uint32_t>(static_cast<const uint16_t*>(in)[e0 + j]);
            }
        }
        if (DT == F32) {
            r.a = make_uint4(w[0], w[1], w[2], w[3]);
            r.b = make_uint4(w[4], w[5], w[6], w[7]);
        } else {
            r.a = make_uint4(w[0] | w[1] << 16, w[2] | w[3] << 16, w[4] | w[5] << 16, w[6] | w[7] << 16);
        }
    }
    return r;
}

__device__ __forceinline__ void two16(uint32_t w, int dt, float& lo, float& hi) {
    if (dt == BF16) {
        lo = __uint_as_float(w << 16);
        hi = __uint_as_float(w & 0xffff0000u);
    } else {
        const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&w));
        lo = f.x;
        hi = f.y;
    }
}

template <int DT>
__device__ __forceinline__ void unpack8(const Raw8& r, float v[8]) {
    if (DT == F32) {
        v[0] = __uint_as_float(r.a.x); v[1] = __uint_as_float(r.a.y);
        v[2] = __uint_as_float(r.a.z); v[3] = __uint_as_float(r.a.w);
        v[4] = __uint_as_float(r.b.x); v[5] = __uint_as_float(r.b.y);
        v[6] = __uint_as_float(r.b.z); v[7] = __uint_as_float(r.b.w);
    } else {
        two16(r.a.x, DT, v[0], v[1]);
        two16(r.a.y, DT, v[2], v[3]);
        two16(r.a.z, DT, v[4], v[5]);
        two16(r.a.w, DT, v[6], v[7]);
    }
}

// The absmax of the block this thread's values belong to: blocksize/8 threads, aligned, share it.
__device__ __forceinline__ float block_absmax(float m, int threadsPerBlock, float* warpMax) {
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
        if (off < threadsPerBlock) {  // uniform: every lane shuffles or none
            m = fmaxf(m, __shfl_xor_sync(QF_FULL_MASK, m, off));
        }
    }
    if (threadsPerBlock > 32) {
        const int warp = threadIdx.x >> 5;
        if ((threadIdx.x & 31) == 0) {
            warpMax[warp] = m;
        }
        __syncthreads();
        const int warps = threadsPerBlock >> 5;
        const int first = warp & ~(warps - 1);
        m = warpMax[first];
        for (int i = 1; i < warps; i++) {
            m = fmaxf(m, warpMax[first + i]);
        }
        __syncthreads();
    }
    return m;
}

// DEPTH: tiles loaded ahead of the one being worked on (1 or 2): more bytes in flight per thread.
template <int DT, int DEPTH>
__device__ __forceinline__ void quantize4(const void* in, uint32_t n, int log2Blocksize,
                                          const uint32_t* __restrict__ table,
                                          uint8_t* __restrict__ packed, float* __restrict__ absmax) {
    __shared__ uint32_t bound[QF_BUCKETS];
    __shared__ uint32_t codes[QF_BUCKETS];
    __shared__ float warpMax[QF_MAX_THREADS / 32];
    for (int i = threadIdx.x; i < QF_BUCKETS; i += blockDim.x) {
        bound[i] = table[i];
        codes[i] = table[QF_BUCKETS + i];
    }
    __syncthreads();

    // 32-bit indices: the host launches at most 2^31 values at a time
    const int threadsPerBlock = 1 << (log2Blocksize - 3);
    const uint32_t tile = blockDim.x * 8u;
    const uint32_t tiles = (n + tile - 1u) / tile;
    uint32_t t = blockIdx.x;
    Raw8 next = load8<DT>(in, t * tile + threadIdx.x * 8u, n);
    Raw8 after = next;
    if (DEPTH > 1) {
        after = load8<DT>(in, (t + gridDim.x) * tile + threadIdx.x * 8u, n);
    }
    for (; t < tiles; t += gridDim.x) {
        const uint32_t e0 = t * tile + threadIdx.x * 8u;
        const Raw8 cur = next;
        if (DEPTH > 1) {
            next = after;
            after = load8<DT>(in, (t + 2u * gridDim.x) * tile + threadIdx.x * 8u, n);
        } else {
            next = load8<DT>(in, (t + gridDim.x) * tile + threadIdx.x * 8u, n);
        }

        float v[8];
        unpack8<DT>(cur, v);
        float m = 0.0f;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            m = fmaxf(m, fabsf(v[j]));
        }
        m = block_absmax(m, threadsPerBlock, warpMax);
        if ((threadIdx.x & (threadsPerBlock - 1)) == 0 && e0 < n) {
            absmax[e0 >> log2Blocksize] = m;
        }
        float inv;
        asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(inv) : "f"(m));

        uint32_t word = 0u;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const uint32_t u = __float_as_uint(__fmul_rn(v[j], inv));
            const uint32_t g = u >> 21;
            // codes[g] holds the lo and hi code as bytes 0, 1 and shifted to the high nibble as
            // bytes 2, 3; pick the right one into byte j/2 of the word, zeros elsewhere
            const int shift = 4 * (j >> 1);
            const uint32_t first = (j & 1) ? 0u : 2u;
            const uint32_t keep = 0x4444u & ~(0xfu << shift);
            const uint32_t selLo = keep | (first << shift);
            const uint32_t selHi = keep | ((first + 1u) << shift);
            word |= __byte_perm(codes[g], 0u, u > bound[g] ? selHi : selLo);
        }
        if (e0 + 8u <= n) {
            __stcs(reinterpret_cast<unsigned int*>(packed + (e0 >> 1)), word);
        } else if (e0 < n) {
            const uint32_t bytes = (n - e0 + 1u) >> 1;
            for (uint32_t k = 0; k < bytes; k++) {
                packed[(e0 >> 1) + k] = static_cast<uint8_t>(word >> (8 * k));
            }
        }
    }
}

// Rounds to bf16, to nearest even; NaN becomes the quiet NaN 0x7fc0 whatever its sign and payload.
__device__ __forceinline__ uint32_t to_bf16(float f) {
    const uint32_t b = __float_as_uint(f);
    if ((b & 0x7fffffffu) > 0x7f800000u) {
        return 0x7fc0u;
    }
    return (b + 0x7fffu + ((b >> 16) & 1u)) >> 16;
}

// Rounds to f16, to nearest even; NaN becomes the quiet NaN 0x7e00.
__device__ __forceinline__ uint32_t to_f16(float f) {
    if (f != f) {
        return 0x7e00u;
    }
    return static_cast<uint32_t>(__half_as_ushort(__float2half_rn(f)));
}

template <int DT>
__device__ __forceinline__ void dequantize4(const uint8_t* __restrict__ packed, const float* __restrict__ absmax,
                                            long long n, int blocksize, const float* __restrict__ codebook,
                                            void* out) {
    __shared__ float value[16];
    if (threadIdx.x < 16) {
        value[threadIdx.x] = codebook[threadIdx.x];
    }
    __syncthreads();
    const long long groups = (n + 7) / 8;
    for (long long g = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; g < groups;
         g += static_cast<long long>(gridDim.x) * blockDim.x) {
        const long long e0 = g * 8;
        uint32_t word = 0u;
        if (e0 + 8 <= n) {
            word = __ldcs(reinterpret_cast<const unsigned int*>(packed + e0 / 2));
        } else {
            const long long bytes = (n - e0 + 1) / 2;
            for (int k = 0; k < bytes; k++) {
                word |= static_cast<uint32_t>(packed[e0 / 2 + k]) << (8 * k);
            }
        }
        const float scale = absmax[e0 / blocksize];
        float v[8];
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const uint32_t code = (word >> (8 * (j >> 1) + ((j & 1) ? 0 : 4))) & 0xfu;
            v[j] = __fmul_rn(value[code], scale);
        }
        if (DT == F32) {
#pragma unroll
            for (int j = 0; j < 8; j++) {
                v[j] = v[j] != v[j] ? __uint_as_float(0x7fc00000u) : v[j];  // one NaN, as on the host
            }
            float* o = static_cast<float*>(out) + e0;
            if (e0 + 8 <= n) {
                __stcs(reinterpret_cast<float4*>(o), make_float4(v[0], v[1], v[2], v[3]));
                __stcs(reinterpret_cast<float4*>(o) + 1, make_float4(v[4], v[5], v[6], v[7]));
            } else {
                for (int j = 0; j < 8 && e0 + j < n; j++) {
                    o[j] = v[j];
                }
            }
        } else {
            uint32_t h[8];
#pragma unroll
            for (int j = 0; j < 8; j++) {
                h[j] = DT == BF16 ? to_bf16(v[j]) : to_f16(v[j]);
            }
            uint16_t* o = static_cast<uint16_t*>(out) + e0;
            if (e0 + 8 <= n) {
                __stcs(reinterpret_cast<uint4*>(o),
                       make_uint4(h[0] | h[1] << 16, h[2] | h[3] << 16, h[4] | h[5] << 16, h[6] | h[7] << 16));
            } else {
                for (int j = 0; j < 8 && e0 + j < n; j++) {
                    o[j] = static_cast<uint16_t>(h[j]);
                }
            }
        }
    }
}

}  // namespace qf

// in: n < 2^31 values (16-byte aligned); log2Blocksize: 5 to 12; table: 2 x 2048 words (bounds, then
// codes); packed: (n + 1) / 2 bytes (4-byte aligned); absmax: one float per block. Launch with
// max(256, blocksize / 8) threads.
extern "C" __global__ void __launch_bounds__(QF_MAX_THREADS)
qf_quantize4_bf16(const void* in, uint32_t n, int log2Blocksize, const uint32_t* table, uint8_t* packed, float* absmax) {
    qf::quantize4<qf::BF16, 1>(in, n, log2Blocksize, table, packed, absmax);
}

extern "C" __global__ void __launch_bounds__(QF_MAX_THREADS)
qf_quantize4_bf16_ahead2(const void* in, uint32_t n, int log2Blocksize, const uint32_t* table, uint8_t* packed, float* absmax) {
    qf::quantize4<qf::BF16, 2>(in, n, log2Blocksize, table, packed, absmax);
}

extern "C" __global__ void __launch_bounds__(QF_MAX_THREADS)
qf_quantize4_f16(const void* in, uint32_t n, int log2Blocksize, const uint32_t* table, uint8_t* packed, float* absmax) {
    qf::quantize4<qf::F16, 1>(in, n, log2Blocksize, table, packed, absmax);
}

extern "C" __global__ void __launch_bounds__(QF_MAX_THREADS)
qf_quantize4_f16_ahead2(const void* in, uint32_t n, int log2Blocksize, const uint32_t* table, uint8_t* packed, float* absmax) {
    qf::quantize4<qf::F16, 2>(in, n, log2Blocksize, table, packed, absmax);
}

extern "C" __global__ void __launch_bounds__(QF_MAX_THREADS)
qf_quantize4_f32(const void* in, uint32_t n, int log2Blocksize, const uint32_t* table, uint8_t* packed, float* absmax) {
    qf::quantize4<qf::F32, 1>(in, n, log2Blocksize, table, packed, absmax);
}

extern "C" __global__ void __launch_bounds__(QF_MAX_THREADS)
qf_quantize4_f32_ahead2(const void* in, uint32_t n, int log2Blocksize, const uint32_t* table, uint8_t* packed, float* absmax) {
    qf::quantize4<qf::F32, 2>(in, n, log2Blocksize, table, packed, absmax);
}

// packed: (n + 1) / 2 bytes (4-byte aligned); absmax: one float per block; codebook: the 16 code
// values; out: n values (16-byte aligned), code value x absmax rounded once to the output type, to
// nearest even, every NaN written as the quiet NaN with the sign clear (HalfFloats.encode on the host).
extern "C" __global__ void qf_dequantize4_bf16(const uint8_t* packed, const float* absmax, long long n, int blocksize,
                                               const float* codebook, void* out) {
    qf::dequantize4<qf::BF16>(packed, absmax, n, blocksize, codebook, out);
}

extern "C" __global__ void qf_dequantize4_f16(const uint8_t* packed, const float* absmax, long long n, int blocksize,
                                              const float* codebook, void* out) {
    qf::dequantize4<qf::F16>(packed, absmax, n, blocksize, codebook, out);
}

extern "C" __global__ void qf_dequantize4_f32(const uint8_t* packed, const float* absmax, long long n, int blocksize,
                                              const float* codebook, void* out) {
    qf::dequantize4<qf::F32>(packed, absmax, n, blocksize, codebook, out);
}
