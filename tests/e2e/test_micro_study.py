"""Whole-job runs: `polymix run` on a micro study, checked through MlflowClient."""

import json
import os
import subprocess
import tempfile
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from training.languages import ALL_LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


SECRETS = {"HF_TOKEN": "hf_pmxTestSecret0001", "AWS_SECRET_ACCESS_KEY": "awsPmxTestSecret0002",
           "MLFLOW_TRACKING_PASSWORD": "mlflowPmxTestSecret0003", "PGPASSWORD": "pgPmxTestSecret0004",
           "WANDB_API_KEY": "wandbPmxTestSecret0005"}


def polymix(workdir: Path, *args: str, tracking_uri: str | None = None, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    # Ray's socket paths must stay under 108 bytes: scripts/test.sh sets a short RAY_TMPDIR in the repo.
    ray_tmp = os.environ.get("RAY_TMPDIR") or tempfile.mkdtemp(prefix="pmx-ray-")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAY_TMPDIR": ray_tmp}
    env.pop("RAY_ADDRESS", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    env.update(env_extra or {})
    done = subprocess.run([sys.executable, "-m", "ray_jobs.cli", "--workdir", str(workdir), *args],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def children(client, experiment_id, parent_id):
    return client.search_runs([experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'")


def test_micro_study_end_to_end_then_deepspeed_reusing_baselines(tmp_path):
    first = polymix(tmp_path, "run", "tests/e2e/micro.yaml", env_extra=SECRETS)  # credentials a cluster job has
    assert "4/4 done" in first.stdout and "mlflow ui --backend-store-uri sqlite:///" in first.stdout

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("micro")
    parents = client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'sweep'")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    runs = children(client, experiment.experiment_id, parents[0].info.run_id)
    assert len(runs) == 4 and all(r.info.status == "FINISHED" for r in runs)
    for run in runs:
        metrics, params = run.data.metrics, run.data.params
        assert {f"eval/acc/{lang}" for lang in ALL_LANGUAGES} <= set(metrics)
        assert all(0.0 <= metrics[f"eval/acc/{lang}"] <= 1.0 for lang in ALL_LANGUAGES)
        assert len(run.data.tags["polymix.spec_hash"]) == 16
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"predictions.jsonl", "trial_spec.json"} <= artifacts
        if params["mixture"] == "en-es":
            assert params["languages"] == "en,es" and params["counts"] == '{"en": 64, "es": 64}'
            assert {"eval/avg_seen", "eval/avg_unseen", "val/acc/en", "val/loss/es", "train/loss"} <= set(metrics)
            history = client.get_metric_history(run.info.run_id, "val/avg_acc")
            assert sorted(m.step for m in history) == [1, 2]  # one validation per epoch
            assert run.data.tags["polymix.best_epoch"] in {"1", "2"}
    predictions = client.download_artifacts(runs[0].info.run_id, "predictions.jsonl", str(tmp_path))
    assert len(Path(predictions).read_text(encoding="utf-8").splitlines()) == 4 * len(ALL_LANGUAGES)

    assert_no_secret_recorded(client, experiment.experiment_id, tmp_path)

    # Same study on the DeepSpeed (ZeRO-1, gloo on CPU) engine: new trial hashes train; baselines are reused.
    second = polymix(tmp_path, "run", "tests/e2e/micro.yaml", "--set", "train.engine=deepspeed", "--set", "train.zero_stage=1")
    assert "4 trials (study order" in second.stdout and "2 already finished (reused, not trained again), 2 to run" in second.stdout
    all_trials = client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'trial'")
    assert len(all_trials) == 6  # 4 + 2 DeepSpeed runs, no duplicated baseline
    # The second sweep's parent names all four runs it used, the two reused baselines with their first parent.
    second_parent = next(p for p in client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'sweep'")
                         if p.info.run_id != parents[0].info.run_id)
    assert second_parent.data.metrics["trials_reused"] == 2
    used = json.loads(Path(client.download_artifacts(second_parent.info.run_id, "trials.json", str(tmp_path))).read_text())
    assert len(used) == 4 and all(u["run_id"] for u in used)
    assert sorted(u["parent_run_id"] == parents[0].info.run_id for u in used) == [False, False, True, True]
    # The same study again: nothing trains, Ray is not even started, no run is added, and polymix says so.
    third = polymix(tmp_path, "run", "tests/e2e/micro.yaml", "--set", "train.engine=deepspeed", "--set", "train.zero_stage=1")
    assert "4 already finished (reused, not trained again), 0 to run" in third.stdout
    assert "nothing to train: every trial of this study already has a finished run" in third.stdout
    assert "up to" not in third.stdout  # Tune never scheduled anything
    assert len(client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'trial'")) == 6
    deepspeed_runs = [r for r in all_trials if r.data.params["train.engine"] == "deepspeed"]
    assert len(deepspeed_runs) == 2
    for run in deepspeed_runs:
        assert run.info.status == "FINISHED"
        assert run.data.metrics["train/loss"] > 0 and "eval/acc/te" in run.data.metrics


def assert_no_secret_recorded(client, experiment_id, workdir: Path, secrets: dict[str, str] = SECRETS) -> None:
    """No credential from the environment in any run's params, tags, metric names or artifacts, nor in the Ray
    results on disk."""
    recorded = []
    for run in client.search_runs([experiment_id]):
        recorded += [*run.data.params.values(), *run.data.tags.values(), *run.data.metrics]
        folder = Path(client.download_artifacts(run.info.run_id, "", str(workdir / "artifacts" / run.info.run_id)))
        recorded += [p.read_text(encoding="utf-8", errors="replace") for p in folder.rglob("*") if p.is_file()]
    results = workdir / "ray_results"
    recorded += [p.read_text(encoding="utf-8", errors="replace") for p in results.rglob("*")
                 if p.is_file() and p.stat().st_size < 5_000_000 and p.suffix not in {".safetensors", ".bin", ".pt"}]
    assert len(recorded) > 20
    for name, secret in secrets.items():
        assert not any(secret in text for text in recorded), f"{name} was recorded"
