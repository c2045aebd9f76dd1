#!/usr/bin/env bash
#
# Installs Debian's chromium for the report's browser test (ReportBrowserTest) when it is missing.
# Never fails the caller: without chromium that one check is skipped and says so.
#   scripts/install-chromium.sh
set -uo pipefail

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    echo "chromium: $(command -v chromium || command -v chromium-browser)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "WARNING: chromium is not installed and cannot be (needs root and apt-get): the report's browser check will be SKIPPED" >&2
    exit 0
fi
echo "installing chromium (apt-get) for the report's browser check..."
if DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null 2>&1; then
    echo "chromium: $(command -v chromium)"
else
    echo "WARNING: apt-get could not install chromium: the report's browser check will be SKIPPED" >&2
fi
exit 0
