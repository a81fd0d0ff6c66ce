"""`polymix submit` and Ray's own `ray job submit` against a real local Ray head with token authentication."""

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.ports import free_port
from tests.sessions import end_session

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# One Ray head for both tests: under pytest-xdist they run in the same worker (--dist loadgroup).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("ray-head")]



@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """`ray start --head` on 127.0.0.1 with token auth; the token file and temp dir stay in the workspace."""
    home = tmp_path_factory.mktemp("ray-head")
    token_file = home / "auth_token"
    token_file.write_text(secrets.token_hex(32))
    token_file.chmod(0o600)
    # Ray's socket paths must stay under 108 bytes: a short temp dir (scripts/test.sh sets RAY_TMPDIR).
    temp_dir = tempfile.mkdtemp(prefix="h", dir=os.environ.get("RAY_TMPDIR"))
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token_file), "HF_HUB_OFFLINE": "1",
           "PATH": f"{BIN}:{os.environ['PATH']}", "RAY_USAGE_STATS_ENABLED": "0"}
    for name in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI", "RAY_AUTH_TOKEN"):
        env.pop(name, None)
    dashboard = free_port()
    # Its own session, which its daemons and the jobs' processes inherit: the teardown ends that session only
    # (`ray stop` would end a concurrent test's Ray too).
    head = subprocess.Popen([BIN / "ray", "start", "--head", "--node-ip-address=127.0.0.1", f"--port={free_port()}",
                             "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}", "--num-cpus=6",
                             # the job agent's own port: Ray's fixed default (52365) may be taken by a concurrent
                             # test's Ray, and a head whose agent cannot bind answers "No available agent" forever
                             f"--dashboard-agent-listen-port={free_port()}",
                             f"--temp-dir={temp_dir}", "--disable-usage-stats"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output, _ = head.communicate(timeout=180)
    assert head.returncode == 0, output[-3000:]
    try:
        yield f"http://127.0.0.1:{dashboard}", env
    finally:
        end_session(head.pid)


def trial_runs(workdir: Path):
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("micro")
    return client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'trial'")


def test_polymix_submit_then_ray_job_submit(ray_head, tmp_path):
    address, env = ray_head
    workdir = tmp_path / "state"  # absolute, as on a cluster's shared storage

    # The micro study's math half (its trained run and its baseline): the whole study is test_micro_study's.
    done = subprocess.run([sys.executable, "-m", "ray_jobs.cli", "--workdir", str(workdir), "submit",
                           "tests/e2e/micro.yaml", "--set", "tasks=[math]", "--address", address, "--follow"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "submitted job raysubmit_" in done.stdout and "SUCCEEDED" in done.stdout
    assert "2/2 done" in done.stdout  # the study's own progress, streamed from the job's driver
    runs = trial_runs(workdir)
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs)
    assert all("eval/acc/te" in r.data.metrics for r in runs)

    # The documented entrypoint, through Ray's own CLI: one more (math-only, one-epoch) trial trains.
    ray_cli = subprocess.run(
        [BIN / "ray", "job", "submit", "--address", address, "--working-dir", ".", "--",
         "python", "-m", "ray_jobs.cli", "--workdir", str(workdir), "run", "tests/e2e/micro.yaml",
         "--set", "tasks=[math]", "--set", "train.epochs=1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert ray_cli.returncode == 0, ray_cli.stdout[-3000:] + ray_cli.stderr[-3000:]
    assert "succeeded" in ray_cli.stdout.lower()
    runs = trial_runs(workdir)
    assert len(runs) == 3  # the math baseline was reused, not duplicated
    one_epoch = [r for r in runs if r.data.params.get("train.epochs") == "1"]
    assert len(one_epoch) == 1 and one_epoch[0].info.status == "FINISHED"


def test_submit_refuses_a_wrong_token_and_a_relative_workdir(ray_head, tmp_path):
    address, env = ray_head
    wrong = {**env, "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    wrong.pop("RAY_AUTH_TOKEN_PATH")
    refused = subprocess.run([sys.executable, "-m", "ray_jobs.cli", "--workdir", str(tmp_path), "submit",
                              "tests/e2e/micro.yaml", "--address", address], cwd=ROOT, env=wrong,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert f"--address {address}: the job server refused" in refused.stderr and "RAY_AUTH_TOKEN" in refused.stderr
    relative = subprocess.run([sys.executable, "-m", "ray_jobs.cli", "submit", "tests/e2e/micro.yaml", "--address", address],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert relative.returncode == 2 and "--workdir .polymix: give an absolute path" in relative.stderr
