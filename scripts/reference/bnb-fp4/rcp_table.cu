// Measures the reciprocal bitsandbytes' 4-bit kernels use: they are built with --use_fast_math, so
// `1.0f / absmax` in kQuantizeBlockwise(Small) is the GPU's approximate reciprocal, not the correctly rounded one.
// This program computes that reciprocal, compiled the same way, for every float32 mantissa at exponent 0, writes
// it as a difference in units in the last place from the correctly rounded 1/m, and checks that every other
// exponent gives the same mantissa (rcp(2^e m) == 2^-e rcp(m) while the result is a normal float).
//
//   nvcc -O3 --use_fast_math -arch=sm_90 -o rcp_table rcp_table.cu && ./rcp_table OUT_DIR
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

__global__ void reciprocal(const float* __restrict__ in, float* __restrict__ out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = 1.0f / in[i];
}

static float bitsToFloat(uint32_t b) { float f; std::memcpy(&f, &b, 4); return f; }
static uint32_t floatToBits(float f) { uint32_t b; std::memcpy(&b, &f, 4); return b; }

int main(int argc, char** argv) {
    const char* dir = argc > 1 ? argv[1] : ".";
    const int n = 1 << 23;
    std::vector<float> in(n), out(n), base(n);
    float *din, *dout;
    cudaMalloc(&din, n * 4);
    cudaMalloc(&dout, n * 4);
    long long mismatches = 0, checked = 0;
    for (int i = 0; i < n; i++) in[i] = bitsToFloat((127u << 23) | (uint32_t) i);
    cudaMemcpy(din, in.data(), n * 4, cudaMemcpyHostToDevice);
    reciprocal<<<n / 256, 256>>>(din, dout, n);
    cudaMemcpy(base.data(), dout, n * 4, cudaMemcpyDeviceToHost);
    if (cudaGetLastError() != cudaSuccess) { std::fprintf(stderr, "CUDA error\n"); return 1; }
    // every exponent against exponent 0
    for (int eb = 1; eb <= 254; eb++) {
        for (int i = 0; i < n; i++) in[i] = bitsToFloat(((uint32_t) eb << 23) | (uint32_t) i);
        cudaMemcpy(din, in.data(), n * 4, cudaMemcpyHostToDevice);
        reciprocal<<<n / 256, 256>>>(din, dout, n);
        cudaMemcpy(out.data(), dout, n * 4, cudaMemcpyDeviceToHost);
        long long bad = 0;
        for (int i = 0; i < n; i++) {
            float expect = std::ldexp(base[i], 127 - eb);
            if (!std::isnormal(expect)) continue; // flushed or overflowing results are not used by the table
            checked++;
            if (floatToBits(expect) != floatToBits(out[i])) bad++;
        }
        if (bad) std::printf("exponent %d: %lld mantissas differ from the scaled base\n", eb - 127, bad);
        mismatches += bad;
    }
    std::printf("scaling property: %lld of %lld normal results differ\n", mismatches, checked);
    // deltas from the correctly rounded reciprocal, at exponent 0
    std::vector<int8_t> delta(n);
    long long hist[5] = {0, 0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        float m = bitsToFloat((127u << 23) | (uint32_t) i);
        volatile float exact = 1.0f / m; // host: IEEE division
        long d = (long) floatToBits(base[i]) - (long) floatToBits(exact);
        if (d < -2 || d > 2) { std::printf("mantissa %d: %ld ulps\n", i, d); return 1; }
        delta[i] = (int8_t) d;
        hist[d + 2]++;
    }
    std::printf("ulps from 1/m (-2..2): %lld %lld %lld %lld %lld\n", hist[0], hist[1], hist[2], hist[3], hist[4]);
    char path[4096];
    std::snprintf(path, sizeof path, "%s/rcp-approx-delta.bin", dir);
    FILE* f = std::fopen(path, "wb");
    std::fwrite(delta.data(), 1, n, f);
    std::fclose(f);
    long long half = 0;
    for (int i = 0; i < n; i += 1 << 13) half += delta[i] != 0;
    std::printf("of the 1024 float16 mantissas, %lld differ from 1/m\n", half);
    return 0;
}
