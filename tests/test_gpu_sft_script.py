"""benchmarks/gpu_sft.py's code path, checked on CPU (`--cpu-check`): a real SFT trial runs and its table is printed.
On a GPU the same script runs DeepSpeed ZeRO-2 in bf16 and reports tokens/s and MFU (issue 3)."""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_sft_cpu_check_trains_and_prints_throughput():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAY_TMPDIR": os.environ.get("RAY_TMPDIR") or tempfile.mkdtemp(prefix="pmx-ray-")}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "benchmarks/gpu_sft.py", "--cpu-check"], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = re.findall(r"^\s+(\d+)\s+([\d.]+)\s+([\d,]+)\s+([\d.]+)%$", done.stdout, flags=re.MULTILINE)
    assert [int(epoch) for epoch, *_ in rows] == [1, 2], done.stdout
    assert all(int(tokens.replace(",", "")) > 0 for _, _, tokens, _ in rows)
    assert 0 < float(rows[1][1]) < float(rows[0][1])  # a real trial: the train loss falls from epoch 1 to 2
    assert "wall time of the whole trial" in done.stdout
