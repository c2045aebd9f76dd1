// Reference bytes of ggml's quantizers for quantflow's tests (io.quantflow.core.ggml).
//
//   ggml_quants_ref MODE TYPE in.f32 out.bin
//   ggml_quants_ref deq TYPE in.bin out.f32
//
// Reads little-endian float32 values (a multiple of 256) from in.f32 and writes them quantized as TYPE
// (f16, bf16, q8_0, q4_0, q5_0, q5_1, q4_K, q5_K, q6_K) to out.bin. MODE "chunk" goes through ggml_quantize_chunk with no
// importance matrix, exactly as llama-quantize does (rows of 256 values); MODE "ref" calls the
// quantize_row_*_ref functions (and the fp16/bf16 row converters) directly, so that ggml-quants.c can be linked in
// compiled with other flags (ggml_refs.sh builds both to measure what float contraction changes). MODE "deq" reads
// TYPE blocks and writes what ggml's to_float (dequantize_row_*) makes of them.
#include "ggml.h"
#include "ggml-quants.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum ggml_type parse_type(const char * s) {
    if (!strcmp(s, "f16"))  return GGML_TYPE_F16;
    if (!strcmp(s, "bf16")) return GGML_TYPE_BF16;
    if (!strcmp(s, "q8_0")) return GGML_TYPE_Q8_0;
    if (!strcmp(s, "q4_0")) return GGML_TYPE_Q4_0;
    if (!strcmp(s, "q5_0")) return GGML_TYPE_Q5_0;
    if (!strcmp(s, "q5_1")) return GGML_TYPE_Q5_1;
    if (!strcmp(s, "q4_K")) return GGML_TYPE_Q4_K;
    if (!strcmp(s, "q5_K")) return GGML_TYPE_Q5_K;
    if (!strcmp(s, "q6_K")) return GGML_TYPE_Q6_K;
    fprintf(stderr, "unknown type %s\n", s);
    exit(2);
}

int main(int argc, char ** argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s chunk|ref TYPE in.f32 out.bin\n", argv[0]);
        return 2;
    }
    const int chunk = !strcmp(argv[1], "chunk");
    const enum ggml_type type = parse_type(argv[2]);
    if (!strcmp(argv[1], "deq")) {
        FILE * q = fopen(argv[3], "rb");
        if (!q) { perror(argv[3]); return 1; }
        fseek(q, 0, SEEK_END);
        const long qbytes = ftell(q);
        fseek(q, 0, SEEK_SET);
        const int64_t nv = qbytes / ggml_type_size(type) * ggml_blck_size(type);
        void * qd = malloc(qbytes);
        float * f = malloc(nv * sizeof(float));
        if (fread(qd, 1, qbytes, q) != (size_t) qbytes) { perror("read"); return 1; }
        fclose(q);
        ggml_get_type_traits(type)->to_float(qd, f, nv);
        FILE * o = fopen(argv[4], "wb");
        if (!o || fwrite(f, sizeof(float), nv, o) != (size_t) nv) { perror(argv[4]); return 1; }
        fclose(o);
        return 0;
    }
    FILE * in = fopen(argv[3], "rb");
    if (!in) { perror(argv[3]); return 1; }
    fseek(in, 0, SEEK_END);
    const long bytes = ftell(in);
    fseek(in, 0, SEEK_SET);
    const int64_t n = bytes / 4;
    if (n % 256 != 0) { fprintf(stderr, "%lld values: not a multiple of 256\n", (long long) n); return 1; }
    float * x = malloc(bytes);
    if (fread(x, 4, n, in) != (size_t) n) { perror("read"); return 1; }
    fclose(in);

    const int64_t n_per_row = 256;
    const int64_t nrows = n / n_per_row;
    const size_t out_bytes = ggml_row_size(type, n);
    void * y = calloc(1, out_bytes);
    if (chunk) {
        const size_t written = ggml_quantize_chunk(type, x, y, 0, nrows, n_per_row, NULL);
        if (written != out_bytes) { fprintf(stderr, "wrote %zu of %zu bytes\n", written, out_bytes); return 1; }
    } else {
        switch (type) {
            case GGML_TYPE_F16:  ggml_fp32_to_fp16_row(x, y, n); break;
            case GGML_TYPE_BF16: ggml_fp32_to_bf16_row_ref(x, y, n); break;
            case GGML_TYPE_Q8_0: quantize_row_q8_0_ref(x, y, n); break;
            case GGML_TYPE_Q4_0: quantize_row_q4_0_ref(x, y, n); break;
            case GGML_TYPE_Q5_0: quantize_row_q5_0_ref(x, y, n); break;
            case GGML_TYPE_Q5_1: quantize_row_q5_1_ref(x, y, n); break;
            case GGML_TYPE_Q4_K: quantize_row_q4_K_ref(x, y, n); break;
            case GGML_TYPE_Q5_K: quantize_row_q5_K_ref(x, y, n); break;
            case GGML_TYPE_Q6_K: quantize_row_q6_K_ref(x, y, n); break;
            default: return 2;
        }
    }
    FILE * out = fopen(argv[4], "wb");
    if (!out || fwrite(y, 1, out_bytes, out) != out_bytes) { perror(argv[4]); return 1; }
    fclose(out);
    free(x);
    free(y);
    return 0;
}
