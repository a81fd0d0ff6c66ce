"""Faults injected for real while `polymix run` works: a Ray Train worker (DeepSpeed ZeRO-1) SIGKILLed mid-training,
the driver SIGKILLed mid-sweep. Nothing is lost, nothing finished is trained again, no MLflow run is duplicated."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from mlflow.tracking import MlflowClient

from tests.sessions import end_session, session_members

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
ONE_TRIAL = ["--set", "eval.baseline=false", "--set", "mixtures=[{name: en-es, languages: [en, es], per_language: 1200}]"]
# In a Ray Train run, whose worker the test kills: the DeepSpeed engine (ZeRO-1, gloo on CPU), which always trains
# through Ray Train (a one-CPU-worker DDP job trains in its trial's process).
IN_RAY_TRAIN = ["--set", "train.engine=deepspeed", "--set", "train.zero_stage=1", "--set", "resources.local_cpus=4"]


def start(workdir: Path, *args: str, tracking_uri: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAY_TMPDIR": os.environ.get("RAY_TMPDIR") or tempfile.mkdtemp(prefix="pmx-")}
    env.pop("RAY_ADDRESS", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    return subprocess.Popen([sys.executable, "-m", "ray_jobs.cli", "--workdir", str(workdir), "run", "tests/e2e/faults.yaml",
                             *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def finish(process: subprocess.Popen, timeout: float = 900) -> str:
    output, _ = process.communicate(timeout=timeout)
    print(output[-20000:])  # shown by pytest when the test fails
    assert process.returncode == 0, output[-4000:]
    return output


def name_of(process: psutil.Process) -> str:
    try:
        return process.name()
    except psutil.Error:  # ended meanwhile
        return "?"


def stop_session(process: subprocess.Popen) -> None:
    """Whatever the killed driver left of its local Ray instance (same session) is ended by that session's id."""
    end_session(process.pid, grace=0)


def trial_runs(client: MlflowClient, experiment_name: str = "faults"):
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'trial'")


def wait_for(condition, process: subprocess.Popen, what: str, seconds: float = 600):
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert process.poll() is None, f"polymix ended before {what}: {process.stdout.read()[-3000:]}"
        try:
            found = condition()
        except Exception:  # the MLflow database is still being created
            found = None
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def epochs_logged(client, run_id) -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, "val/avg_acc"))


def train_workers(driver: subprocess.Popen) -> list[psutil.Process]:
    """The Ray Train workers of this driver's Ray instance (its session), not a concurrent test's."""
    workers = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) == driver.pid and " ".join(proc.cmdline()).startswith("ray::RayTrainWorker"):
                workers.append(proc)
        except (OSError, psutil.Error):  # ended meanwhile
            continue
    return workers


def test_worker_killed_mid_training_resumes_from_its_checkpoint(tmp_path):
    driver = start(tmp_path, *ONE_TRIAL, *IN_RAY_TRAIN)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        run = wait_for(lambda: next((r for r in trial_runs(client) if epochs_logged(client, r.info.run_id) == [1]), None),
                       driver, "the first epoch's checkpoint")
        workers = wait_for(lambda: train_workers(driver), driver, "a Ray Train worker")
        assert len(workers) == 1
        workers[0].send_signal(signal.SIGKILL)  # mid-way through epoch 2
        killed_at = time.time()
        output = finish(driver)
    finally:
        stop_session(driver)
    runs = trial_runs(client)
    assert len(runs) == 1 and runs[0].info.run_id == run.info.run_id and runs[0].info.status == "FINISHED"
    history = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "train/resumed_from_epoch")}
    assert history == {1: 0, 2: 1, 3: 1}, history  # epochs 2 and 3 were trained after restoring epoch 1's checkpoint
    assert epochs_logged(client, run.info.run_id) == [1, 2, 3]  # each epoch recorded once
    metrics = runs[0].data.metrics
    assert {"eval/acc/en", "eval/acc/es", "eval/acc/ja", "eval/avg_seen", "selected/val/loss/en"} <= set(metrics)
    assert "1 to run" in output and time.time() > killed_at


def test_driver_killed_mid_sweep_then_rerun_finishes_without_retraining_or_duplicates(tmp_path):
    driver = start(tmp_path)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")

    def one_finished_one_training():
        runs = trial_runs(client)
        finished = [r for r in runs if r.info.status == "FINISHED"]
        training = [r for r in runs if r.info.status == "RUNNING" and epochs_logged(client, r.info.run_id)]
        return (finished, training) if finished and training else None

    try:
        finished, training = wait_for(one_finished_one_training, driver, "one finished trial and one mid-training")
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
        time.sleep(5)  # Ray's GCS and raylet die with the driver; what outlives them is left over
        leftover = {p: name_of(p) for p in session_members(driver.pid)}
        parent_before = client.search_runs([client.get_experiment_by_name("faults").experiment_id], "tags.`polymix.kind` = 'sweep'")
        finished_before = {r.info.run_id: r.info.end_time for r in trial_runs(client) if r.info.status == "FINISHED"}

        output = finish(start(tmp_path))
        outlived = [name for p, name in leftover.items() if p.is_running()]
    finally:
        stop_session(driver)
    # What outlived the killed driver (Ray's dashboard and runtime-env agents, here for a minute or more) the rerun
    # ended first, saying so
    assert not leftover or "a killed earlier run left of its local Ray instance: " in output, (leftover, output[-3000:])
    assert not outlived, outlived
    assert "3 trials (study order" in output and f"{len(finished_before)} already finished" in output
    assert f"{3 - len(finished_before)} to run" in output and "(reused)" in output
    runs = trial_runs(client)
    assert len(runs) == 3 and all(r.info.status == "FINISHED" for r in runs)  # one run per trial: no duplicate
    assert len({r.data.tags["polymix.spec_hash"] for r in runs}) == 3
    for run in runs:  # finished before the kill: not trained again (same run, same end time)
        if run.info.run_id in finished_before:
            assert run.info.end_time == finished_before[run.info.run_id]
    interrupted = next(r for r in runs if r.info.run_id == training[0].info.run_id)  # the same run, completed
    assert epochs_logged(client, interrupted.info.run_id) == [1, 2, 3]
    assert {"eval/acc/en", "eval/avg_seen"} <= set(interrupted.data.metrics)
    parents = client.search_runs([client.get_experiment_by_name("faults").experiment_id], "tags.`polymix.kind` = 'sweep'")
    assert len(parents) == len(parent_before) == 1 and parents[0].info.status == "FINISHED"
