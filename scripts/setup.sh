#!/usr/bin/env bash
# One-time set-up on a fresh machine: a virtualenv with polymix and its stack.
# CPU machines get the CPU build of torch (pinned first, so pip does not pull a multi-GB CUDA build);
# on a GPU cluster, set POLYMIX_TORCH="torch" (or your CUDA build) to keep the cluster's torch.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "${POLYMIX_TORCH:-torch==2.13.0}"
.venv/bin/python -m pip install -q -e ".[dev]"
