"""`polymix tune` end to end: a grid over learning rates with ASHA, the best value recorded in MLflow and a file,
then `polymix run` with `hparams: from_tuning` trains the grid with it."""

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.e2e.test_micro_study import children, polymix

pytestmark = pytest.mark.e2e


def test_tune_records_the_best_learning_rate_and_the_grid_run_uses_it(tmp_path):
    tuned = polymix(tmp_path, "tune", "tests/e2e/tune_micro.yaml")
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("tune-micro")
    [tuning] = client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'tuning'")
    assert tuning.info.status == "FINISHED"
    runs = {float(run.data.params["train.lr"]): run for run in children(client, experiment.experiment_id, tuning.info.run_id)}
    assert sorted(runs) == [1e-7, 1e-3, 3e-3] and all(run.data.params["mixture"] == "en" for run in runs.values())

    # Two trials at a time (2 CPUs, 1 per trial, each training in its own process): lr 1e-7, last in the grid, starts when one of the other two has
    # finished, so it reaches epoch 1 after both and is the worst there: ASHA stops it, its run says so.
    assert "· 2 running ·" in tuned.stdout and "· 3 running ·" not in tuned.stdout
    weakest = runs[1e-7]
    assert weakest.info.status == "KILLED" and weakest.data.tags["polymix.stopped"] == "stopped early by ASHA"
    assert [m.step for m in client.get_metric_history(weakest.info.run_id, "val/avg_loss")] == [1]
    assert "eval/avg" not in weakest.data.metrics
    finished = {lr: run for lr, run in runs.items() if run.info.status == "FINISHED"}
    assert 3e-3 in finished or 1e-3 in finished
    best_lr = min(finished, key=lambda lr: finished[lr].data.metrics["selected/val/avg_loss"])

    summary = json.loads(Path(client.download_artifacts(tuning.info.run_id, "tuning/tiny-s-math.json", str(tmp_path))).read_text())
    assert summary["best"]["hparams"] == {"lr": best_lr} and summary["best"]["run_id"] == finished[best_lr].info.run_id
    assert summary["trials_stopped_early"] == 3 - len(finished) and summary["stopped_at_epoch"]["1"] == 3 - len(finished)
    assert summary["best"]["value"] == pytest.approx(finished[best_lr].data.metrics["selected/val/avg_loss"])
    assert json.loads(tuning.data.tags["polymix.tuned.tiny-s.math"]) == {"lr": best_lr}
    best_file = json.loads((tmp_path / "tuning" / "tune-micro.json").read_text())
    assert best_file["tuning_run_id"] == tuning.info.run_id and best_file["best"]["tiny-s"]["math"]["hparams"] == {"lr": best_lr}
    assert f"{3 - len(finished)} stopped early by ASHA (" in tuned.stdout

    # The grid: `en` with the best lr is the best tuning trial (same content), reused; `en-es` trains with it.
    grid = polymix(tmp_path, "run", "tests/e2e/tune_micro.yaml")
    assert f"tiny-s/math: tuned lr={best_lr:.4g} (tuning run {tuning.info.run_id})" in grid.stdout
    assert "1 already finished (reused, not trained again), 1 to run" in grid.stdout
    # The table it prints has both runs of the grid, the reused one (a child of the tuning run) too.
    table = grid.stdout.split("\nmodel ", 1)[1].splitlines()[2:]
    assert sorted(row.split()[2] for row in table if row.startswith("tiny-s ")) == ["en", "en-es"]
    [sweep] = client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'sweep'")
    [trained] = children(client, experiment.experiment_id, sweep.info.run_id)
    assert trained.info.status == "FINISHED" and trained.data.params["mixture"] == "en-es"
    assert float(trained.data.params["train.lr"]) == best_lr and trained.data.params["tuned_from"] == tuning.info.run_id
    used = json.loads(Path(client.download_artifacts(sweep.info.run_id, "trials.json", str(tmp_path))).read_text())
    assert {t["trial"]: t["run_id"] for t in used}["tiny-s/math/en"] == finished[best_lr].info.run_id
