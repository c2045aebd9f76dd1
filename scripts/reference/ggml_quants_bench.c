// Times ggml's reference quantizers (quantize_row_*_ref in libggml-base: what llama-quantize runs without an
// importance matrix) on one thread, on the same weights as bench's GgmlQuantizeBenchmark: 256 rows of 4096
// N(0, 0.02^2) values rounded to bf16 (splitmix64 + Box-Muller). Prints the best and median of ROUNDS runs, timed in
// the thread's CPU time (waiting for a core on a shared machine does not count).
//
//   gcc -O2 -I$LLAMA/ggml/include -I$LLAMA/ggml/src scripts/reference/ggml_quants_bench.c \
//       -L$LLAMA/build/bin -lggml-base -lm -Wl,-rpath,$LLAMA/build/bin -o ggml_quants_bench
//   ./ggml_quants_bench [ROUNDS]
#include "ggml.h"
#include "ggml-quants.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROW 4096
#define VALUES (ROW * 256)

static uint64_t state = 0x9E3779B97F4A7C15ull;

static uint64_t next(void) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float bf16(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    b = ((b + 0x7fff + ((b >> 16) & 1)) >> 16) << 16;
    memcpy(&f, &b, 4);
    return f;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void * a, const void * b) {
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

int main(int argc, char ** argv) {
    const int rounds = argc > 1 ? atoi(argv[1]) : 15;
    float * w = malloc(sizeof(float) * VALUES);
    for (int i = 0; i < VALUES; i += 2) {
        double u1 = (next() >> 11) * 0x1.0p-53;
        double u2 = (next() >> 11) * 0x1.0p-53;
        double r = sqrt(-2 * log(1 - u1));
        w[i] = bf16(0.02f * (float) (r * cos(2 * M_PI * u2)));
        w[i + 1] = bf16(0.02f * (float) (r * sin(2 * M_PI * u2)));
    }
    const enum ggml_type types[] = {GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K, GGML_TYPE_Q8_0, GGML_TYPE_Q4_0};
    void * out = malloc(ggml_row_size(GGML_TYPE_Q8_0, VALUES) * 2);
    double * t = malloc(sizeof(double) * rounds);
    for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
        const enum ggml_type type = types[k];
        const size_t row_bytes = ggml_row_size(type, ROW);
        for (int r = 0; r < rounds; r++) {
            const double t0 = now();
            for (int row = 0; row < VALUES / ROW; row++) {
                const float * x = w + (size_t) row * ROW;
                void * y = (char *) out + row * row_bytes;
                switch (type) {
                    case GGML_TYPE_Q4_K: quantize_row_q4_K_ref(x, y, ROW); break;
                    case GGML_TYPE_Q5_K: quantize_row_q5_K_ref(x, y, ROW); break;
                    case GGML_TYPE_Q6_K: quantize_row_q6_K_ref(x, y, ROW); break;
                    case GGML_TYPE_Q8_0: quantize_row_q8_0_ref(x, y, ROW); break;
                    case GGML_TYPE_Q4_0: quantize_row_q4_0_ref(x, y, ROW); break;
                    default: return 2;
                }
            }
            t[r] = now() - t0;
        }
        qsort(t, rounds, sizeof(double), cmp);
        printf("%-5s %d values: best %.3f ms, median %.3f ms (%.1f M values/s at best)\n", ggml_type_name(type),
               VALUES, t[0] * 1e3, t[rounds / 2] * 1e3, VALUES / t[0] / 1e6);
    }
    return 0;
}
