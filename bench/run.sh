#!/usr/bin/env bash
#
# Builds the benchmark jar and runs the CPU quantize benchmarks, writing the output (JMH's log and
# the closing table) to bench/results/cpu-<date>.txt as well as the terminal.
#
#   bench/run.sh                          short defaults: fork 1, 2 x 1 s warmup, 3 x 1 s measurement
#   bench/run.sh -wi 5 -i 10 -r 2s        any JMH option overrides them
#   bench/run.sh -p threads=1,2,4,8 'quantize'   a benchmark regex; the copy baseline always runs
#
# Environment: BENCH_JAVA_OPTS, extra flags for the launching JVM (the forks get theirs from
# QuantizeBenchmarkMain: --add-modules=jdk.incubator.vector -XX:+UseParallelGC, plus any -jvmArgsAppend).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"

# shellcheck source-path=SCRIPTDIR/..
. scripts/find-java.sh
# shellcheck disable=SC2119 # no preferred homes: the standard order
if ! qf_find_java; then
    qf_java_missing_help
    exit 1
fi

echo "building quantflow-bench with $QF_JAVA_HOME (Java $QF_JAVA_VERSION)..." >&2
JAVA_HOME=$QF_JAVA_HOME ./mvnw -q -DskipTests package -pl bench -am >&2

mkdir -p bench/results
out=bench/results/cpu-$(date +%Y-%m-%d).txt
if [ -e "$out" ]; then
    out=bench/results/cpu-$(date +%Y-%m-%d-%H%M%S).txt
fi

extra=()
# JMH reads fields through sun.misc.Unsafe, which JDK 24+ warns about at every start
if [ "$(qf_java_major "$QF_JAVA_VERSION")" -ge 24 ]; then
    extra+=(--sun-misc-unsafe-memory-access=allow)
fi
if [ -n "${BENCH_JAVA_OPTS:-}" ]; then
    read -r -a extra <<<"$BENCH_JAVA_OPTS"
fi

echo "writing $out" >&2
{
    echo "# bench/run.sh $*"
    echo "# load average before the run: $(uptime 2>/dev/null | sed 's/.*load average[s]*: *//' || echo unknown) (other work on the machine skews the figures)"
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
} | tee "$out"
set +e
"$QF_JAVA" --add-modules jdk.incubator.vector -XX:+UseParallelGC ${extra[@]+"${extra[@]}"} \
    -jar bench/target/quantflow-bench.jar "$@" 2>&1 \
    | grep --line-buffered -v '^WARNING: Using incubator modules: jdk.incubator.vector$' \
    | tee -a "$out"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
    echo "benchmark failed (exit $status); partial output in $out" >&2
fi
exit "$status"
