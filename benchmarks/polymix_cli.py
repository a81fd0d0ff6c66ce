"""What the benchmarks share: running `polymix` on a study they wrote, as a user would, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run_polymix(workdir: Path, command: str, config: dict, *overrides: str) -> subprocess.CompletedProcess:
    """`polymix --workdir WORKDIR COMMAND STUDY [--set OVERRIDE ...]` on ``config`` written to the work dir, offline,
    with Ray's temp dir and token in the repository (as scripts/test.sh keeps them); exits with its output if it fails."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{config['name']}.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.setdefault("RAY_TMPDIR", str(ROOT / ".ray_tmp"))
    env.setdefault("RAY_AUTH_TOKEN_PATH", str(Path(env["RAY_TMPDIR"]) / "auth_token"))
    Path(env["RAY_TMPDIR"]).mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "ray_jobs.cli", "--workdir", str(workdir), command, str(path),
                           *[item for override in overrides for item in ("--set", override)]],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"polymix {command} {path} {' '.join(overrides)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done
