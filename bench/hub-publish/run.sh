#!/usr/bin/env bash
#
# Time to publish a synthetic model to the loopback Hub (services/core's HubTestServer, write side, parts spooled
# to disk): quantflow's HubTarget (HubPublishMain: whoami, create repo, sha256, preupload, LFS batch, multipart
# parts, completion, one commit) against huggingface_hub's upload_folder (the pinned client of
# scripts/hf-client-venv.sh, without hf_xet, so the LFS path) of the same files, same server, same run, each twice
# in alternating order, each to a new repository. Writes bench/results/hub-publish-<date>.txt.
#
#   bench/hub-publish/run.sh [SHAPE]        SHAPE of ./quantflow synth (default llama-1b)
#
# Environment: BENCH_WORK (default bench/target/hub-publish: the model and the spool), BENCH_PARALLEL (files at
# once for both clients; default 5, huggingface_hub's default), BENCH_PART (bytes per part, default 16 MiB; files
# of at least one part go multipart), BENCH_PARTS_AT_ONCE (quantflow's parts of one file at once, default 1;
# huggingface_hub sends them one at a time).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$root"
# shellcheck source-path=SCRIPTDIR/../..
. scripts/find-java.sh
# shellcheck disable=SC2119
if ! qf_find_java; then
    qf_java_missing_help
    exit 1
fi
export JAVA_HOME=$QF_JAVA_HOME

shape=${1:-llama-1b}
work=${BENCH_WORK:-$root/bench/target/hub-publish}
parallel=${BENCH_PARALLEL:-5}
part=${BENCH_PART:-16777216}
parts_at_once=${BENCH_PARTS_AT_ONCE:-1}
mkdir -p "$work" bench/results

scripts/hf-client-venv.sh >&2
./mvnw -o -q -B -pl services/core -am test-compile >&2
./mvnw -o -q -B -pl services/core dependency:build-classpath -Dmdep.outputFile="$work/cp.txt" -Dmdep.includeScope=test >&2
cp="services/core/target/test-classes:services/core/target/classes:$(cat "$work/cp.txt")"

if [ ! -f "$work/model-$shape/config.json" ]; then
    ./quantflow synth --shape "$shape" --out "$work/model-$shape" >&2
fi
model=$work/model-$shape

rm -rf "$work/spool"
token=hf_benchWRITEtoken
"$QF_JAVA" -Xmx2g -cp "$cp" io.quantflow.core.testing.HubTestServer --token "$token:bench:write" \
    --multipart "$part:$part" --spool "$work/spool" >"$work/server.out" 2>"$work/server.err" &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    [ -s "$work/server.out" ] && break
    sleep 0.1
done
endpoint=$(head -1 "$work/server.out")
export HF_ENDPOINT=$endpoint HF_TOKEN=$token HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_PROGRESS_BARS=1
export HF_HOME=$work/hf-home

out=bench/results/hub-publish-$(date +%Y-%m-%d).txt
[ -e "$out" ] && out=bench/results/hub-publish-$(date +%Y-%m-%d-%H%M%S).txt
files=$(find "$model" -type f | wc -l)
bytes=$(du -sb "$model" | cut -f1)
{
    echo "# bench/hub-publish/run.sh $shape: $files files, $bytes bytes ($(du -sh "$model" | cut -f1)); parts of $part bytes; $parallel files at once; quantflow sends $parts_at_once part(s) of a file at once"
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (with uncommitted changes)'); $(nproc) cores; load before: $(uptime | sed 's/.*load average[s]*: *//')"
    echo "# huggingface_hub $(.venv-hf/bin/python services/core/src/test/resources/hub/hf_client.py check), no hf_xet; $("$QF_JAVA" -version 2>&1 | head -1)"
    echo "# seconds: 'inside' = from whoami to the commit (as each client times itself); 'wall' = the process, start-up included"
    printf "%-28s %10s %10s %10s\n" client inside wall MB/s
} | tee "$out"

run() {
    local name=$1 repo=$2
    shift 2
    local t0 t1 inside
    t0=$(date +%s.%N)
    inside=$("$@" 2>&1 >/dev/null | sed -n 's/^seconds //p' | tail -1)
    t1=$(date +%s.%N)
    local wall
    wall=$(echo "$t1 - $t0" | bc -l)
    printf "%-28s %10.2f %10.2f %10.1f\n" "$name ($repo)" "$inside" "$wall" "$(echo "$bytes / 1048576 / $inside" | bc -l)" | tee -a "$out"
}

qf() { run quantflow "$1" "$QF_JAVA" -cp "$cp" io.quantflow.core.testing.HubPublishMain "$model" "hf://bench/$1" "$parallel" "$parts_at_once"; }
py() { run huggingface_hub "$1" .venv-hf/bin/python services/core/src/test/resources/hub/hf_client.py upload "bench/$1" "$model"; }

qf qf-1
py py-1
py py-2
qf qf-2
echo "# written to $out" >&2
