#!/usr/bin/env bash
# A/B of two quantflow builds on the same model, in one run: whether a change of the code made
# conversions slower or changed a byte. Usage (from the repository root):
#   bench/ab/run.sh BEFORE.jar AFTER.jar MODEL_DIR [OUT_DIR]
# Converts MODEL_DIR with each jar in turn (before, after, before, after...; QF_AB_ROUNDS rounds, default 3),
# on each device of QF_AB_DEVICES (default "cpu"; "cpu gpu" on a CUDA machine), output on QF_AB_WORK
# (default /dev/shm, so the disk does not decide), and prints every time, the median per jar and device, the
# ratio after/before, and whether the two outputs are identical file by file (sha256 of every file but the
# manifest, which holds timings).
set -euo pipefail
before=$1 after=$2 model=$3 out=${4:-${OUT:-/tmp/quantflow-ab}}
rounds=${QF_AB_ROUNDS:-3} devices=${QF_AB_DEVICES:-cpu} work=${QF_AB_WORK:-/dev/shm}/qf-ab
mkdir -p "$out" "$work"
java_() { java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC "$@" 2>/dev/null; }
sums() { (cd "$1" && find . -type f ! -name quantflow-manifest.json | sort | xargs sha256sum); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
res="$out/ab-$(date +%Y-%m-%d-%H%M%S).txt"
{
    echo "# quantflow A/B, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(nproc) cores, $(java -version 2>&1 | head -1)"
    echo "before: $before ($(sha256sum "$before" | cut -c1-12)), after: $after ($(sha256sum "$after" | cut -c1-12))"
    echo "model: $model ($(du -sh "$model" | cut -f1)), rounds: $rounds, output on $work"
} | tee "$res"
for dev in $devices; do
    : > "$work/times-before" ; : > "$work/times-after"
    for r in $(seq "$rounds"); do
        for side in before after; do
            jar=$before; [ "$side" = after ] && jar=$after
            rm -rf "$work/$side"
            t0=$(date +%s.%N)
            QUANTFLOW_CACHE="$work/cache-$side" java_ -jar "$jar" convert "$model" --out "$work/$side" --device "$dev" --no-cache > "$out/$dev-$side-$r.log" 2>&1
            t=$(awk "BEGIN{print $(date +%s.%N) - $t0}")
            echo "$t" >> "$work/times-$side"
            echo "$dev round $r $side: $t s" | tee -a "$res"
        done
        if [ "$r" = 1 ]; then
            if diff <(sums "$work/before") <(sums "$work/after") > "$out/$dev-diff.txt"; then
                echo "$dev: outputs identical ($(sums "$work/after" | wc -l) files)" | tee -a "$res"
            else
                echo "$dev: OUTPUTS DIFFER (see $dev-diff.txt)" | tee -a "$res"
            fi
        fi
    done
    b=$(median < "$work/times-before") a=$(median < "$work/times-after")
    echo "$dev: median before $b s, after $a s, after/before $(awk "BEGIN{printf \"%.3f\", $a / $b}")" | tee -a "$res"
done
rm -rf "$work"
