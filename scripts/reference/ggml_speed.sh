#!/usr/bin/env bash
# One run, one machine, one thread: ggml's reference quantizers (libggml-base of the llama.cpp build llama-quantize
# uses; timed by ggml_quants_bench.c and by llama.cpp's own test-quantize-perf) against quantflow's (fast Vector API
# path and scalar port, GgmlQuantizeBestOf) on the same weights, ggml timed before and after quantflow.
# Writes bench/results/ggml-quantize-<date>.txt. Needs bench/target/quantflow-bench.jar
# (./mvnw -o -q -DskipTests package -pl bench -am).
#
#   LLAMA=/work/llama/src scripts/reference/ggml_speed.sh [ROUNDS]
set -euo pipefail
LLAMA=${LLAMA:-/work/llama/src}
ROUNDS=${1:-15}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
JAVA=${JAVA:-java}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
OUT=$ROOT/bench/results/ggml-quantize-$(date +%Y-%m-%d).txt
gcc -O2 -I"$LLAMA/ggml/include" -I"$LLAMA/ggml/src" "$ROOT/scripts/reference/ggml_quants_bench.c" \
    -L"$LLAMA/build/bin" -lggml-base -lm -Wl,-rpath,"$LLAMA/build/bin" -o "$WORK/ggml_quants_bench"
{
    echo "# ggml reference quantizers vs quantflow, one thread, thread CPU time, $(date -u +%FT%TZ)"
    echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# llama.cpp: $(git -C "$LLAMA" describe --tags --always 2>/dev/null || echo source at $LLAMA), libggml-base Release -O3, GGML_NATIVE=OFF"
    echo "# java: $("$JAVA" -version 2>&1 | head -1)"
    echo
    echo "## ggml (scripts/reference/ggml_quants_bench.c), before"
    "$WORK/ggml_quants_bench" "$ROUNDS"
    echo
    echo "## quantflow (io.quantflow.bench.GgmlQuantizeBestOf)"
    "$JAVA" --add-modules jdk.incubator.vector -cp "$ROOT/bench/target/quantflow-bench.jar" \
        io.quantflow.bench.GgmlQuantizeBestOf "$ROUNDS" 2>&1 | grep -v WARNING
    echo
    echo "## ggml, after"
    "$WORK/ggml_quants_bench" "$ROUNDS"
    if [ -x "$LLAMA/build/bin/test-quantize-perf" ]; then
        echo
        echo "## llama.cpp's test-quantize-perf, quantize_row_q_reference, q4_K (its own synthetic data; cycles are wall-clock based)"
        "$LLAMA/build/bin/test-quantize-perf" --type q4_K --op quantize_row_q_reference --size 65536 -i 50 2>&1 | grep -E "cycles|throughput"
    fi
    echo
    echo "# end load average: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT"
