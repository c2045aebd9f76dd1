#!/usr/bin/env bash
#
# Creates .venv-hf: a Python virtual environment with huggingface_hub at a pinned version and WITHOUT
# hf_xet (so that uploads take the LFS path), from the machine's package mirror (pip.conf). The Hub
# target's compatibility tests run the real client from it against the loopback Hub.
#   scripts/hf-client-venv.sh            creates it unless it holds the pinned version already
set -euo pipefail

HF_HUB_VERSION=1.33.0
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
venv="$root/.venv-hf"

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import huggingface_hub, sys; sys.exit(huggingface_hub.__version__ != '$HF_HUB_VERSION')" 2>/dev/null \
        && ! "$venv/bin/python" -c "import hf_xet" 2>/dev/null; then
    echo "== huggingface_hub $HF_HUB_VERSION in $venv (already there)"
    exit 0
fi
if ! command -v python3 >/dev/null; then
    echo "ERROR: python3 is needed to create $venv (the Hub compatibility tests run the real huggingface_hub)" >&2
    exit 1
fi
rm -rf "$venv"
python3 -m venv "$venv"
# the mirror in pip.conf answers; the default index may be unreachable, so do not wait on it
PIP_RETRIES=0 PIP_TIMEOUT=5 PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/pip" install -q "huggingface_hub==$HF_HUB_VERSION"
# huggingface_hub depends on hf_xet on x86_64; without it the client uploads through the LFS batch API
"$venv/bin/pip" uninstall -q -y hf-xet || true
"$venv/bin/python" "$root/services/core/src/test/resources/hub/hf_client.py" check
echo "== huggingface_hub $HF_HUB_VERSION in $venv (no hf_xet)"
