#!/usr/bin/env bash
# Builds the CUDA kernels to PTX, the form that services/core carries as a resource and loads with
# cuModuleLoadData (the driver compiles it for the GPU it finds: sm_80 and newer).
#
#   kernels/build.sh                 rebuild the committed resource
#   kernels/build.sh --out DIR       write the PTX into DIR instead (the staleness test does this)
#
# IEEE arithmetic only: no fast math, correctly rounded division and square root, no flush of
# subnormals to zero, no contraction of multiplies and adds into FMAs. The kernels also spell out
# their rounding (__fmul_rn), so the PTX keeps that meaning under any JIT options; the one approximate
# instruction, the reciprocal bitsandbytes takes (rcp.approx.ftz.f32), is written as PTX.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
out="$here/../services/core/src/main/resources/io/quantflow/core/gpu"
if [ "${1:-}" = "--out" ]; then
    out=$2
fi
nvcc=${NVCC:-nvcc}
if ! command -v "$nvcc" >/dev/null 2>&1; then
    echo "build.sh: nvcc not found (set NVCC or put the CUDA toolkit's bin on PATH)" >&2
    exit 3
fi
mkdir -p "$out"
"$nvcc" -ptx -arch=compute_80 -std=c++17 \
    -prec-div=true -prec-sqrt=true -ftz=false -fmad=false \
    -o "$out/quantize.ptx" "$here/quantize.cu"
echo "wrote $out/quantize.ptx ($("$nvcc" --version | tail -1))"
