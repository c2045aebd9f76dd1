#!/usr/bin/env bash
# Builds what bench/gpu/run.sh needs on a GPU machine that has no Java, no Maven and no network,
# into .device/ (ignored by git): a trimmed Java 25 runtime, the quantflow CLI jar, the core test
# jar with the test libraries (for the @Tag("gpu") suite and the kernel benchmark), and the
# tiny-llama fixture. Run from the repository root on the build machine.
set -euo pipefail
top=$(git rev-parse --show-toplevel)
cd "$top"
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
dev="$top/.device"
mkdir -p "$dev"
if [ ! -f "$dev/jre.tgz" ]; then
    # the runtime ../shared/device/pack-jre.sh makes (done here: a worktree's .git is a file, not a folder)
    tmp=$(mktemp -d)
    "$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,java.management,java.naming,java.net.http,java.sql,java.xml,java.desktop,jdk.unsupported,jdk.incubator.vector,jdk.crypto.ec,jdk.zipfs,jdk.management \
        --strip-debug --no-man-pages --no-header-files --compress=zip-9 --output "$tmp/jre25" 2>/dev/null
    tar czf "$dev/jre.tgz" -C "$tmp" jre25
    rm -rf "$tmp"
fi
./mvnw -q -o -pl services/core,services/cli -am -DskipTests install
rm -rf "$dev/lib" "$dev/fixtures"
# only the test runner's libraries: everything else is in the CLI jar already (the bundle must stay under 64 MiB)
./mvnw -q -o -pl services/core dependency:copy-dependencies -DincludeScope=test \
    -DincludeGroupIds=org.junit.jupiter,org.junit.platform,org.opentest4j,org.apiguardian \
    -DoutputDirectory="$dev/lib"
cp services/cli/target/quantflow.jar "$dev/quantflow.jar"
# the Kafka client is for `submit` alone (loaded only when it runs): left out to keep under the limit
zip -q -d "$dev/quantflow.jar" 'org/apache/kafka/*' 'kafka/*' 'common/message/*' >/dev/null || true
cp services/core/target/quantflow-core-*-tests.jar "$dev/quantflow-core-tests.jar"
fixtures=${QUANTFLOW_FIXTURES:-$top/../shared/fixtures}
mkdir -p "$dev/fixtures/tiny-llama"
cp -r "$fixtures/tiny-llama/base-bf16" "$fixtures/tiny-llama/lora-adapter" "$dev/fixtures/tiny-llama/"
du -sh "$dev"/* | sort -h
du -sh "$dev"
