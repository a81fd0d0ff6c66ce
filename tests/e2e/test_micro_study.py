"""Whole-job runs: `polymix run` on a micro study, checked through MlflowClient."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
LANGUAGES = ("en", "es", "te")  # tests/e2e/micro.yaml's evaluation languages


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


def test_micro_study_end_to_end_then_rerun_reusing_baselines(tmp_path):
    """The realistic fixtures converted through data.sources (tests/e2e/micro.yaml), trained, evaluated with the
    tasks' budgets and reported on the study's evaluation languages; then the same study with another training
    setting (baselines reused), then again (nothing to train)."""
    first = polymix(tmp_path, "run", "tests/e2e/micro.yaml", env_extra=SECRETS)  # credentials a cluster job has
    assert "4/4 done" in first.stdout and "mlflow ui --backend-store-uri sqlite:///" in first.stdout
    # a log, not a terminal: no progress bars (the tiny model is written in the work dir here) and no Tune hints
    log = first.stdout + first.stderr
    assert not any(noise in log for noise in ("Writing model shards", "it/s]", "TensorBoard", "Configuration for experiment")), log[-3000:]
    # conversion counts, printed and on the parent run: 6 MATH-style answers in every language, 1 spelled out in es
    assert ("[polymix] data math train (mcot_math): kept/read en 56/71, es 56/71, 8 per language held out for "
            "validation; skipped final answer is not a number: en 6, es 7") in first.stdout

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("micro")
    parents = client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'sweep'")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    conversion = json.loads(Path(client.download_artifacts(parents[0].info.run_id, "data/conversion.json", str(tmp_path))).read_text())
    assert conversion["math"]["test"]["kept"] == {"en": 12, "es": 12, "te": 12} and conversion["api"]["train"]["read"]["es"] == 60
    assert parents[0].data.params["eval_languages"] == "en,es,te"
    runs = children(client, experiment.experiment_id, parents[0].info.run_id)
    assert len(runs) == 4 and all(r.info.status == "FINISHED" for r in runs)
    for run in runs:
        metrics, params = run.data.metrics, run.data.params
        assert {f"eval/acc/{lang}" for lang in LANGUAGES} <= set(metrics) and "eval/acc/ja" not in metrics
        assert all(0.0 <= metrics[f"eval/acc/{lang}"] <= 1.0 for lang in LANGUAGES)
        # every response either scored or unparsed (no number, no call): an unparsed one cannot be right
        assert all(0.0 <= metrics[f"eval/unparsed/{lang}"] <= 1.0 - metrics[f"eval/acc/{lang}"] for lang in LANGUAGES)
        assert params["baseline"] == "true" or metrics["train/too_long_dropped"] == 0
        assert len(run.data.tags["polymix.spec_hash"]) == 16
        assert params[f"eval.max_new_tokens.{params['task']}"] == "48"  # the study's budget, not the references'
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"predictions.jsonl", "trial_spec.json"} <= artifacts
        predictions = [json.loads(line) for line in Path(client.download_artifacts(
            run.info.run_id, "predictions.jsonl", str(tmp_path / run.info.run_id))).read_text(encoding="utf-8").splitlines()]
        assert len(predictions) == 4 * len(LANGUAGES)
        assert all(p["finish"] in ("eos", "stop", "length") and 0 < p["tokens"] <= 48 for p in predictions)
        assert all(p["tokens"] == 48 for p in predictions if p["finish"] == "length")
        if params["mixture"] == "en-es":
            assert params["languages"] == "en,es" and params["counts"] == '{"en": 48, "es": 48}'
            assert {"eval/avg_seen", "eval/avg_unseen", "val/acc/en", "val/loss/es", "train/loss"} <= set(metrics)
            history = client.get_metric_history(run.info.run_id, "val/avg_acc")
            assert sorted(m.step for m in history) == [1, 2]  # one validation per epoch
            assert run.data.tags["polymix.best_epoch"] in {"1", "2"}
        elif params["task"] == "math":  # the untrained model rambles: MGSM rows have no solution to cap it at 16 tokens
            assert max(p["tokens"] for p in predictions) == 48

    report = polymix(tmp_path, "report", "micro")
    text = (tmp_path / "reports" / "micro" / "report.md").read_text(encoding="utf-8")
    assert "evaluation languages: en, es, te (the study's eval.languages)" in text, report.stdout
    header = next(line for line in text.splitlines() if line.startswith("| model | task | mixture |"))
    assert header == "| model | task | mixture | en | es | te |"

    assert_no_secret_recorded(client, experiment.experiment_id, tmp_path)

    # Same study with one epoch: new trial hashes train; the baselines (no training settings) are reused. (The
    # DeepSpeed engine through Ray Train is test_faults' worker-kill study.)
    one_epoch = ("--set", "train.epochs=1")
    second = polymix(tmp_path, "run", "tests/e2e/micro.yaml", *one_epoch)
    assert "4 trials (study order" in second.stdout and "2 already finished (reused, not trained again), 2 to run" in second.stdout
    all_trials = client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'trial'")
    assert len(all_trials) == 6  # 4 + 2 one-epoch runs, no duplicated baseline
    # The second sweep's parent names all four runs it used, the two reused baselines with their first parent.
    second_parent = next(p for p in client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'sweep'")
                         if p.info.run_id != parents[0].info.run_id)
    assert second_parent.data.metrics["trials_reused"] == 2
    used = json.loads(Path(client.download_artifacts(second_parent.info.run_id, "trials.json", str(tmp_path))).read_text())
    assert len(used) == 4 and all(u["run_id"] for u in used)
    assert sorted(u["parent_run_id"] == parents[0].info.run_id for u in used) == [False, False, True, True]
    # The same study again: nothing trains, Ray is not even started, no run is added, and polymix says so.
    third = polymix(tmp_path, "run", "tests/e2e/micro.yaml", *one_epoch)
    assert "4 already finished (reused, not trained again), 0 to run" in third.stdout
    assert "nothing to train: every trial of this study already has a finished run" in third.stdout
    assert "up to" not in third.stdout  # Tune never scheduled anything
    assert len(client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'trial'")) == 6
    one_epoch_runs = [r for r in all_trials if r.data.params.get("train.epochs") == "1"]
    assert len(one_epoch_runs) == 2
    for run in one_epoch_runs:
        assert run.info.status == "FINISHED" and run.data.params["mixture"] == "en-es"
        assert run.data.metrics["train/loss"] > 0 and "eval/acc/te" in run.data.metrics
        assert [m.step for m in client.get_metric_history(run.info.run_id, "val/avg_acc")] == [1]


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
