#!/usr/bin/env bash
# Makes the reference bytes io.quantflow.core.ggml's tests compare against: ggml's own quantizers (libggml-base from
# the llama.cpp source at $LLAMA, built with its default Release flags, GGML_NATIVE=OFF: the build llama-quantize
# uses) run on the inputs ggml_make_inputs.py writes. Also builds ggml-quants.c again with -march=x86-64-v3 (FMA
# contraction) and prints the fraction of blocks that differ from the default build.
#
#   LLAMA=/work/llama/src PYTHON=/work/pyenv/bin/python scripts/reference/ggml_refs.sh
set -euo pipefail
LLAMA=${LLAMA:-/work/llama/src}
PYTHON=${PYTHON:-/work/pyenv/bin/python}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$HERE/../../services/core/src/test/resources/ggml}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
LIB=$LLAMA/build/bin
test -f "$LIB/libggml-base.so" || { echo "build llama.cpp first (cmake --build $LLAMA/build --target llama-quantize)"; exit 1; }

"$PYTHON" "$HERE/ggml_make_inputs.py" "$WORK"
INC="-I$LLAMA/ggml/include -I$LLAMA/ggml/src -I$LLAMA/build/ggml/src"
gcc -O2 $INC "$HERE/ggml_quants_ref.c" -L"$LIB" -lggml-base -Wl,-rpath,"$LIB" -o "$WORK/ref_default"
gcc -O3 -DNDEBUG -std=gnu11 -march=x86-64-v3 -DGGML_BUILD -D_GNU_SOURCE -D_XOPEN_SOURCE=600 $INC \
    -c "$LLAMA/ggml/src/ggml-quants.c" -o "$WORK/quants_fma.o"
gcc -O2 $INC "$HERE/ggml_quants_ref.c" "$WORK/quants_fma.o" -L"$LIB" -lggml-base -lm -Wl,-rpath,"$LIB" -o "$WORK/ref_fma"

mkdir -p "$OUT"
cp "$WORK/cases.txt" "$OUT/cases.txt"
gzip -9n < "$WORK/inputs.f32" > "$OUT/inputs.f32.gz"
gzip -9n < "$WORK/specials.f32" > "$OUT/specials.f32.gz"
for t in f16 bf16 q8_0 q4_0 q5_0 q5_1 q4_K q5_K q6_K; do
    "$WORK/ref_default" chunk $t "$WORK/inputs.f32" "$WORK/$t.bin"
    "$WORK/ref_default" ref $t "$WORK/inputs.f32" "$WORK/$t.ref.bin"
    cmp "$WORK/$t.bin" "$WORK/$t.ref.bin"   # ggml_quantize_chunk (llama-quantize's call) == quantize_row_*_ref
    gzip -9n < "$WORK/$t.bin" > "$OUT/$t.bin.gz"
    "$WORK/ref_fma" ref $t "$WORK/inputs.f32" "$WORK/$t.fma.bin"
    "$PYTHON" "$HERE/ggml_block_diff.py" $t "$WORK/$t.bin" "$WORK/$t.fma.bin"
    # what ggml's dequantizer makes of the first 16384 values' blocks
    head -c $(( $(stat -c %s "$WORK/$t.bin") * 16384 / ($(stat -c %s "$WORK/inputs.f32") / 4) )) "$WORK/$t.bin" > "$WORK/$t.head.bin"
    "$WORK/ref_default" deq $t "$WORK/$t.head.bin" "$WORK/$t.deq.f32"
    gzip -9n < "$WORK/$t.deq.f32" > "$OUT/$t.deq.f32.gz"
done
for t in f16 bf16; do
    "$WORK/ref_default" chunk $t "$WORK/specials.f32" "$WORK/specials.$t.bin"
    gzip -9n < "$WORK/specials.$t.bin" > "$OUT/specials.$t.bin.gz"
done
ls -l "$OUT"
