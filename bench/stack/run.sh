#!/usr/bin/env bash
#
# The pipeline against the one-process command on the same synthetic model, in one run:
#
#   bench/stack/run.sh [SHAPE]        SHAPE: llama-1b (default), llama-160m, ...
#
# Starts its own stack (scripts/stack up: Kafka, S3Proxy, the four services), writes the model
# (QF_BENCH_SHARD_SIZE bytes per shard, default 1 GB), puts it in the object store once (not
# timed), then times, each once, in this order:
#   convert   local -> local        quantflow convert DIR --out DIR
#   convert   s3 -> s3              quantflow convert s3://... --out s3://...   (the command, same store)
#   submit    s3 -> s3              quantflow submit s3://... --out s3://...    (the pipeline)
#   submit    local -> s3           quantflow submit DIR --out s3://...         (uploads the source first)
# and checks that every weight file the pipeline published has the sha256 convert wrote. The
# ratios are of wall times from this run. Output: the terminal and bench/results/stack-<date>.txt.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$root"
shape=${1:-llama-1b}
shard=${QF_BENCH_SHARD_SIZE:-1000000000}
work=${QF_BENCH_DIR:-$root/bench/stack/work}
out=bench/results/stack-$(date +%Y-%m-%d).txt

rm -rf "$work"
mkdir -p "$work" bench/results
export QUANTFLOW_CACHE=$work/cache
export QUANTFLOW_STACK_FILE=$work/stack/stack.properties
scripts/stack up --dir "$work/stack" >&2
trap 'scripts/stack down --dir "$work/stack" --purge >&2 || true; rm -rf "$work"' EXIT

prop() { sed -n "s/^$1=//p" "$QUANTFLOW_STACK_FILE"; }
endpoint=$(prop s3.endpoint)
bucket=$(prop work.bucket)
# the command writes to an s3:// target with the AWS variables; the pipeline reads the stack file
export AWS_ENDPOINT_URL_S3=$endpoint AWS_ACCESS_KEY_ID=$(prop s3.accessKey) AWS_SECRET_ACCESS_KEY=$(prop s3.secretKey) AWS_REGION=us-east-1

./quantflow synth --shape "$shape" --out "$work/src" --max-shard-size "$shard" >&2
for f in "$work"/src/*; do
    code=$(curl -sS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$f" -o "$work/put.out" -w '%{http_code}' \
        "$endpoint/$bucket/bench/$shape/$(basename "$f")")
    [ "$code" = 200 ] || { echo "uploading $f: HTTP $code: $(head -c 500 "$work/put.out")" >&2; exit 1; }
done
src_bytes=$(du -sb "$work/src" | cut -f1)

seconds() { # runs a command, prints its wall time in seconds; its stdout goes to $work/<name>.out
    local name=$1; shift
    local t0 t1
    t0=$(date +%s.%N)
    "$@" > "$work/$name.out" 2> "$work/$name.err" || { cat "$work/$name.err" >&2; exit 1; }
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc
}

t_local=$(seconds convert-local ./quantflow convert "$work/src" --out "$work/converted" --no-cache)
t_cli_s3=$(seconds convert-s3 ./quantflow convert "s3://$bucket/bench/$shape" --out "s3://models/bench/$shape-cli" --no-cache)
t_stack=$(seconds submit-s3 ./quantflow submit "s3://$bucket/bench/$shape" --out "s3://models/bench/$shape-stack")
t_stack_local=$(seconds submit-local ./quantflow submit "$work/src" --out "s3://models/bench/$shape-stack-local")

# where the pipeline's time went: the manifest's milliseconds per stage (summed over shards)
curl -sSf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$endpoint/models/bench/$shape-stack/quantflow-manifest.json" -o "$work/stack-manifest.json"
stages=$(tr -d ' \n' < "$work/stack-manifest.json" | sed -n 's/.*"timings":{\([^}]*}\)}.*/\1/p')

# the pipeline's sha256 lines against the files convert wrote
mismatch=0
for f in "$work"/converted/*; do
    name=$(basename "$f")
    [ "$name" = quantflow-manifest.json ] && continue
    sum=$(sha256sum "$f" | cut -d' ' -f1)
    for run in submit-s3 submit-local; do
        grep -q "  $sum  $name\$" "$work/$run.out" || { echo "MISMATCH: $run $name" >&2; mismatch=1; }
    done
done

{
    echo "# quantflow pipeline benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
    echo "# model: synthetic $shape, $(ls "$work"/src/*.safetensors | wc -l) shards, $src_bytes bytes of source files"
    echo "# stack: Kafka 4.4.0 (KRaft), S3Proxy 4.1.0 (filesystem), one instance of each service, on loopback, same disk"
    printf '%-28s %8s %10s %8s\n' run seconds "MB/s src" ratio
    for row in "convert local->local:$t_local" "convert s3->s3:$t_cli_s3" "submit s3->s3 (pipeline):$t_stack" "submit local->s3 (pipeline):$t_stack_local"; do
        name=${row%%:*}; t=${row##*:}
        printf '%-28s %8.2f %10.1f %8.2f\n' "$name" "$t" "$(echo "$src_bytes / $t / 1000000" | bc -l)" "$(echo "$t / $t_local" | bc -l)"
    done
    echo "pipeline s3->s3 / convert s3->s3: $(printf '%.2f' "$(echo "$t_stack / $t_cli_s3" | bc -l)")x"
    echo "pipeline s3->s3 timings (ms): $stages"
    echo "weight files identical to convert's: $([ $mismatch = 0 ] && echo yes || echo NO)"
} | tee "$out"
[ $mismatch = 0 ]
