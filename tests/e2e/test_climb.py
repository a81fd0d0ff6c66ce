"""`polymix climb` end to end: a Climb search, then the same search with a language added (mixture reuse)."""

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.e2e.test_micro_study import children, polymix

pytestmark = pytest.mark.e2e


def recommendation(client, parent, tmp_path) -> dict:
    path = client.download_artifacts(parent.info.run_id, "search/tiny-s-math/recommendation.json", str(tmp_path / parent.info.run_id))
    return json.loads(Path(path).read_text())


def test_climb_search_then_adding_a_language_reuses_its_runs(tmp_path):
    first = polymix(tmp_path, "climb", "tests/e2e/climb_micro.yaml")
    assert "recommended mixture: " in first.stdout and "fitted interaction matrix T" in first.stdout

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("climb-micro")
    [parent] = client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'search'")
    assert parent.info.status == "FINISHED"
    runs = children(client, experiment.experiment_id, parent.info.run_id)
    # 5 initial mixtures (each language measured by n + 3 = 5 runs: its n + 2 = 4 parameters and one residual degree
    # of freedom), 1 fitted optimum, then the recommendation's confirmation unless it is a mixture already run.
    assert len(runs) in (6, 7) and all(run.info.status == "FINISHED" for run in runs)
    assert f"climb search tiny-s/math: {len(runs)} runs finished" in first.stdout
    for run in runs:  # every run validated both searched languages and scored the objective
        metrics = run.data.metrics
        assert {"selected/val/loss/en", "selected/val/loss/es", "val/objective", "eval/acc/fr"} <= set(metrics)
        assert metrics["val/objective"] == pytest.approx(0.5 * metrics["selected/val/loss/en"] + 0.5 * metrics["selected/val/loss/es"])
    predicted = [run for run in runs if "predicted/val/objective" in run.data.metrics]
    assert predicted, "the runs after the initial design carry the searcher's prediction"
    assert all({"predicted/val/loss/en", "predicted/val/loss/es"} <= set(run.data.metrics) for run in predicted)

    summary = recommendation(client, parent, tmp_path)
    rec = summary["recommended"]
    assert sum(rec["counts"].values()) == 128 and set(rec["counts"]) <= {"en", "es"}
    assert rec["predicted"]["val/objective"] > 0 and rec["measured"]["val/objective"] > 0  # confirmed by a run
    optimiser = rec["optimiser"]
    assert optimiser["method"] in ("slsqp", "run") and optimiser["residual_noise_per_loss"] > 0
    # the law's optimum only where the interval of its predicted gain excludes 0; else the best run
    interval = optimiser["gain_interval"]
    assert interval is None or (interval["draws"] == 200 and interval["low"] <= interval["high"])
    assert (optimiser["method"] == "slsqp") == (interval is not None and interval["low"] > 0)
    assert optimiser["rule"].startswith("the law's optimum" if optimiser["method"] == "slsqp" else "best run")
    assert f"chosen as {optimiser['rule']}" in first.stdout
    assert optimiser["method"] == "run" or optimiser["certified"]
    assert parent.data.metrics["search/tiny-s-math/recommended_measured"] == pytest.approx(rec["measured"]["val/objective"])
    law = summary["fitted_law"]
    assert law["languages"] == ["en", "es"]
    # the base's own losses, measured before any fine-tuning, split T into the base's prior and transfer
    base = [parent.data.metrics[f"search/tiny-s-math/base/val/loss/{lang}"] for lang in ("en", "es")]
    assert base == pytest.approx(law["base_losses"], abs=1e-4) and min(base) > 0
    assert len(law["transfer_without_prior"]) == 2 and len(law["prior_examples"]) == 2
    assert "T with the base's prior taken out" in first.stdout
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "search/tiny-s-math")}
    assert artifacts == {"search/tiny-s-math/recommendation.json", "search/tiny-s-math/transfer_matrix.png"}

    # Add fr: the first search's runs re-enter the fit (fr ratio 0). Their kept checkpoints are first validated on fr
    # (a forward pass each), so they measure fr's row of T too; fr's own curve needs 4 runs that train it: 4 new
    # initial runs (6 without the re-validation), then the confirmation of the recommendation unless already run.
    selected_before = {run.info.run_id: {k: v for k, v in run.data.metrics.items() if k.startswith("selected/")} for run in runs}
    second = polymix(tmp_path, "climb", "tests/e2e/climb_micro.yaml", "--set", "search.languages=[en, es, fr]",
                     "--set", "search.runs=5")
    assert f"validated {len(runs)} earlier runs' kept checkpoints on fr" in second.stdout
    assert f"{len(runs)} runs of earlier searches reused" in second.stdout
    for run in runs:  # recorded beside what the run measured, which is left as it was
        again = client.get_run(run.info.run_id)
        assert again.data.tags["polymix.revalidated"] == "fr" and again.data.metrics["revalidated/val/loss/fr"] > 0
        assert {k: v for k, v in again.data.metrics.items() if k.startswith("selected/")} == selected_before[run.info.run_id]
    [new_parent] = [p for p in client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'search'")
                    if p.info.run_id != parent.info.run_id]
    new_runs = children(client, experiment.experiment_id, new_parent.info.run_id)
    assert len(new_runs) in (4, 5)
    assert all("selected/val/loss/fr" in run.data.metrics for run in new_runs)
    summary = recommendation(client, new_parent, tmp_path)
    assert summary["runs_reused_from_earlier_searches"] == len(runs) and summary["runs_finished"] == len(new_runs)
    assert summary["fitted_law"]["languages"] == ["en", "es", "fr"]
    trials = client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'trial'")
    assert len(trials) == len(runs) + len(new_runs)


def test_joint_optuna_search_with_asha_stops_weak_runs_and_recommends_the_best_finished(tmp_path):
    """TPE through Ray's OptunaSearch over one weight per language (normalised into exact counts by the trial) and
    the learning rate (the tuning section's space: a joint search); ASHA stops a run after an epoch when it is worse
    than the rung's median. A stopped run ends KILLED with its reason and its epoch metrics, and the next runs get
    its resources (no leaked placement group)."""
    done = polymix(tmp_path, "climb", "tests/e2e/climb_micro.yaml", "--set", "search.strategy=optuna",
                   "--set", "search.asha=true", "--set", "search.runs=5", "--set", "train.epochs=3",
                   "--set", "search.hparams=true", "--set", "tuning={space: {lr: {loguniform: [1.0e-3, 1.0e-2]}}}")
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("climb-micro")
    [parent] = client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'search'")
    runs = children(client, experiment.experiment_id, parent.info.run_id)
    stopped = [run for run in runs if run.info.status == "KILLED"]
    finished = [run for run in runs if run.info.status == "FINISHED"]
    assert len(runs) == 5 and len(stopped) + len(finished) == 5, [run.info.status for run in runs]
    assert stopped and finished, [run.info.status for run in runs]
    for run in runs:
        counts = json.loads(run.data.params["counts"])
        assert sum(counts.values()) == 128 and set(counts) <= {"en", "es"}
        assert 1e-3 <= float(run.data.params["train.lr"]) <= 1e-2  # sampled, not the study's 3e-3
    assert len({run.data.params["train.lr"] for run in runs}) == 5
    for run in stopped:
        assert run.data.tags["polymix.stopped"] == "stopped early by ASHA"
        epochs = [m.step for m in client.get_metric_history(run.info.run_id, "val/objective")]
        assert epochs and max(epochs) < 3 and "eval/avg_seen" not in run.data.metrics
    for run in finished:
        assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "val/objective")) == [0, 1, 2, 3]
    summary = recommendation(client, parent, tmp_path)
    assert summary["runs_finished"] == len(finished) and summary["runs_stopped_early"] == len(stopped)
    best = min(finished, key=lambda run: run.data.metrics["val/objective"])
    assert summary["recommended"]["mixture"] == best.data.params["mixture"]
    assert summary["recommended"]["hparams"] == {"lr": float(best.data.params["train.lr"])}
    assert summary["recommended"]["measured"]["val/objective"] == pytest.approx(best.data.metrics["val/objective"])
    assert summary["recommended"]["predicted"] is None and "fitted_law" not in summary
    assert f"{len(finished)} runs finished, {len(stopped)} stopped early by ASHA" in done.stdout
    assert f"with training settings: lr={float(best.data.params['train.lr']):.4g}" in done.stdout
