#!/usr/bin/env bash
# The GPU benchmark and test run, in one go on a machine with a CUDA GPU (run from the repository
# root; .device/ made by bench/gpu/bundle.sh). Writes a results file gpu-<date>-<gpu>.txt and logs
# to OUTDIR (default $OUT, else /tmp/quantflow-gpu-out):
#   1. the @Tag("gpu") test suite (GPU bytes == CPU bytes, fixture conversion on both devices)
#   2. device-to-device copy bandwidth through PyTorch: the baseline
#   3. the quantize kernel on bf16 [8192, 28672] (and variants) in TB/s, its ratio to the copy
#   4. a Llama-shaped 8B bf16 checkpoint: cold read of its files, then `quantflow convert
#      --device gpu` from a cold page cache: time, ratio to the read, peak RSS, peak GPU memory;
#      the same on the CPU for comparison, and the two outputs compared file by file
# Environment: QF_STEPS (default "tests copy kernel convert"), QF_WORK (scratch, default /tmp/qf-bench),
# QF_DEVICE_DIR (the bundle, default .device: it must travel with the command, it is git-ignored),
# QF_CONVERT (conversion variants, see step 4).
set -uo pipefail
dev=${QF_DEVICE_DIR:-.device}
out=${1:-${OUT:-/tmp/quantflow-gpu-out}}
work=${QF_WORK:-/tmp/qf-bench}
steps=${QF_STEPS:-tests copy kernel convert}
mkdir -p "$out" "$work"
if ! command -v java >/dev/null 2>&1; then
    tar xzf "$dev/jre.tgz" -C /opt && export PATH=/opt/jre25/bin:$PATH
fi
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
short=$(echo "$gpu" | grep -o -i 'h100\|h200\|a100\|l40s' | head -1 | tr 'A-Z' 'a-z')
res="$out/gpu-$(date +%Y-%m-%d)-${short:-gpu}.txt"
cp_="$dev/quantflow.jar:$dev/quantflow-core-tests.jar:$dev/lib/*"
java_() { java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED "$@" 2> >(grep -v 'incubator' >&2); }
say() { echo "$*" | tee -a "$res"; }
now() { date +%s.%N; }
calc() { awk "BEGIN{print $*}"; }
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }

say "# quantflow GPU run, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader)"
say "host: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r); java $(java -version 2>&1 | head -1)"
say "disk: $(df -h "$work" | tail -1)"

if [[ " $steps " == *" tests "* ]]; then
    say ""
    say "## 1. GPU test suite"
    java_ -Xmx4g -Dquantflow.fixtures="$dev/fixtures" -cp "$cp_" io.quantflow.core.gpu.GpuSuite > "$out/gpu-tests.log" 2>&1
    say "exit $?: $(grep -E '^[0-9]+ passed' "$out/gpu-tests.log")"
    grep -E 'gpu probe|MethodSource|=>' "$out/gpu-tests.log" | head -20 | tee -a "$res"
fi

if [[ " $steps " == *" copy "* ]]; then
    say ""
    say "## 2. copy baseline (PyTorch, device to device, bytes read + written)"
    python3 - <<'PY' 2>&1 | tee -a "$res"
import torch
x = torch.randn(8192, 28672, device="cuda").to(torch.bfloat16)
y = torch.empty_like(x)
s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
for _ in range(3): y.copy_(x)
ts = []
for _ in range(30):
    s.record(); y.copy_(x); e.record(); e.synchronize(); ts.append(s.elapsed_time(e))
ms = sorted(ts)[len(ts) // 2]
print(f"torch copy bf16 8192x28672: {ms:.3f} ms, {2 * x.nbytes / ms / 1e9:.3f} TB/s")
PY
fi

if [[ " $steps " == *" kernel "* ]]; then
    say ""
    say "## 3. quantize kernel, bf16 [8192, 28672] (bytes read + written; ratio to a copy in the same run)"
    java_ -Xmx10g -cp "$cp_" io.quantflow.core.gpu.KernelBenchmark 8192 28672 2>&1 | tee "$out/kernel.log" | tee -a "$res"
    if command -v cuobjdump >/dev/null 2>&1; then
        nvcc -cubin -arch=sm_90 -prec-div=true -ftz=false -fmad=false -Xptxas -v -o "$work/q.cubin" kernels/quantize.cu > "$out/ptxas.log" 2>&1
        cuobjdump -sass "$work/q.cubin" | awk '/Function : qf_quantize4_bf16/,/Function : qf_quantize4_f16/' > "$out/quantize_bf16.sass" 2>&1
    fi
fi

# Runs a command in the background; prints wall seconds, peak RSS (MiB) and peak GPU memory used (MiB).
measure() {
    local base peak_rss=0 t0 t1 pid rss
    base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 50 > "$work/gpumem.log" &
    local smi=$!
    t0=$(now)
    "$@" > "$work/cmd.out" 2> "$work/cmd.err" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        rss=$(awk '/VmHWM/{print $2}' /proc/$pid/status 2>/dev/null)
        [ -n "$rss" ] && [ "$rss" -gt "$peak_rss" ] && peak_rss=$rss
        sleep 0.05
    done
    wait "$pid"
    local rc=$?
    t1=$(now)
    kill "$smi" 2>/dev/null; wait "$smi" 2>/dev/null
    local gpeak
    gpeak=$(sort -n "$work/gpumem.log" | tail -1)
    echo "$rc $(calc "$t1 - $t0") $((peak_rss / 1024)) $((gpeak - base))"
}

if [[ " $steps " == *" convert "* ]]; then
    say ""
    say "## 4. Llama-shaped 8B bf16 checkpoint, cold page cache"
    src="$work/llama-8b"
    if [ ! -f "$src/config.json" ]; then
        java_ -Xmx2g -jar "$dev/quantflow.jar" synth --shape llama-8b --out "$src" 2>&1 | tail -1 | tee -a "$res"
    fi
    bytes=$(du -cb "$src"/*.safetensors | tail -1 | cut -f1)
    drop_caches
    t0=$(now); cat "$src"/*.safetensors > /dev/null; t1=$(now)
    read_s=$(calc "$t1 - $t0")
    say "$(printf 'cold read (cat, %d files, %.2f GB): %.2f s = %.2f GB/s' "$(ls "$src"/*.safetensors | wc -l)" "$(calc "$bytes / 1e9")" "$read_s" "$(calc "$bytes / $read_s / 1e9")")"
    # variants: DEVICE[:SLOTS:CHUNK_MIB[:AHEAD[:shm]]] (shm: the output goes to /dev/shm, to see the
    # reading side alone); the first gpu and the cpu outputs are compared below
    for variant in ${QF_CONVERT:-gpu cpu}; do
        IFS=: read -r device slots chunk ahead where <<< "$variant"
        props=()
        [ -n "$slots" ] && props+=("-Dquantflow.gpu.slots=$slots" "-Dquantflow.gpu.chunkMiB=$chunk")
        [ -n "$ahead" ] && props+=("-Dquantflow.gpu.ahead=$ahead")
        dir="$work/out-$device"
        [ -d "$dir" ] && dir="$work/out-$device-$slots-$chunk-$ahead"
        [ "$where" = shm ] && dir="/dev/shm/out-$device-$slots-$chunk"
        rm -rf "$dir"
        drop_caches
        m=$(measure java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx1g "${props[@]}" \
            -jar "$dev/quantflow.jar" convert "$src" --out "$dir" --device "$device" --verbose)
        read -r rc secs rss gmem <<< "$m"
        q=$(grep -o '"quantizer" : "[^"]*"' "$dir/quantflow-manifest.json" 2>/dev/null)
        { echo "== $variant"; cat "$work/cmd.out"; grep -v incubator "$work/cmd.err"; } >> "$out/convert.log"
        say "$(printf 'convert --device %s (cold, nf4+dq bs64, -Xmx1g %s%s): exit %s, %.2f s = %.2fx the cold read; peak RSS %s MiB; peak GPU memory used %s MiB; %s' \
            "$device" "${props[*]}" "${where:+, output to /dev/shm}" "$rc" "$secs" "$(calc "$secs / $read_s")" "$rss" "$gmem" "$q")"
        [ "$dir" != "$work/out-$device" ] && rm -rf "$dir"
    done
    same=1
    for f in "$work/out-cpu"/*; do
        b=$(basename "$f")
        [ "$b" = quantflow-manifest.json ] && continue
        cmp -s "$f" "$work/out-gpu/$b" || { same=0; say "DIFFERENT: $b"; }
    done
    say "gpu output == cpu output, file by file (manifest aside): $([ $same = 1 ] && echo yes || echo NO)"
fi
say ""
say "results: $res"
