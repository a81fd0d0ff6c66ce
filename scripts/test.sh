#!/usr/bin/env bash
# The test command (README, .ci/run): set up if needed, then unit and e2e tests, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 RAY_TMPDIR="${RAY_TMPDIR:-$PWD/.ray_tmp}"
mkdir -p "$RAY_TMPDIR"
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
