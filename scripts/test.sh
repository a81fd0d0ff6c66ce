#!/usr/bin/env bash
# The test command (README, .ci/run): set up if needed, then unit and e2e tests, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The MLflow UI test browses the tracking server in headless Chromium: Debian's package, installed when missing.
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
fi
export HF_HUB_OFFLINE=1 RAY_TMPDIR="${RAY_TMPDIR:-$PWD/.ray_tmp}"
# Sample data and tiny models are built once per machine (search/runs/inputs.py); the tests keep theirs in the repo.
export POLYMIX_CACHE="${POLYMIX_CACHE-$PWD/.polymix_cache}"
mkdir -p "$RAY_TMPDIR" && chmod 700 "$RAY_TMPDIR"
# Local Ray instances keep token authentication on; their token lives in the workspace, not in ~/.ray, private to
# its owner (0600, in a folder only they can list).
export RAY_AUTH_TOKEN_PATH="${RAY_AUTH_TOKEN_PATH:-$RAY_TMPDIR/auth_token}"
[ -s "$RAY_AUTH_TOKEN_PATH" ] || (umask 077 && .venv/bin/python -c "import secrets; print(secrets.token_hex(32))" > "$RAY_AUTH_TOKEN_PATH")
# The linter first (configured in pyproject.toml): a lint error fails the tests before they start.
.venv/bin/ruff check .
# Two pytest workers (pytest-xdist): an e2e test leaves a core idle ~40% of its time (Ray and MLflow start-ups,
# process imports, polling), which the other worker's tests fill. Tests sharing a module fixture stay together.
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n "${POLYMIX_TEST_WORKERS:-2}" --dist loadgroup "$@"
