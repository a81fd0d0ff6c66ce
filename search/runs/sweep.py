"""Run a study's grid: every trial of its design, through Ray Tune, reusing the finished ones."""

from __future__ import annotations

import json
from pathlib import Path

import ray
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from ray import tune

from search.runs.cluster import concurrency, run_config, trial_resources, tune_config
from search.runs.designs import TrialSpec, expand_trials, study_hash
from search.runs.driver import Drive
from search.runs.planner import estimate, longest_first
from search.runs.progress import Progress
from search.runs.trial import trainable
from search.study import Study
from search.tracking import results_table
from training.errors import ConfigError


def ordered_trials(study: Study, trials: list[TrialSpec]) -> tuple[list[TrialSpec], str]:
    """Longest-first order (planner's cost model) when the study gives what it needs, else the file's order."""
    try:
        return [cost.trial for cost in longest_first(estimate(study, trials))], "longest first"
    except ConfigError:  # no models[].params or plan.tokens_per_example: no cost model to order by
        return trials, "study order (declare models[].params and plan.tokens_per_example for longest-first)"



def _tune(drive: Drive, trials: list[TrialSpec], sweep_hash: str):
    """Hand ``trials`` to Ray Tune, in their order, and wait for all of them."""
    param_space = {"trial": tune.grid_search([
        {"spec": t.model_dump(mode="json"), "context": drive.trial_context(t.model.name)} for t in trials
    ])}
    drive.start_ray()
    request, fits, note = trial_resources(trials, ray.cluster_resources())
    max_concurrent = concurrency(drive.study, fits, len(trials))
    print(f"[polymix] up to {max_concurrent} trials at a time", flush=True)
    if note:
        print(f"[polymix] note: {note}", flush=True)
    tuner = tune.Tuner(
        tune.with_resources(trainable, request),
        param_space=param_space,
        tune_config=tune_config(max_concurrent),
        run_config=run_config(f"{drive.study.name}-{sweep_hash}", drive.workdir, [Progress(len(trials))]),
    )
    return tuner.fit()


def tuned_settings(drive: Drive) -> dict:
    """``hparams: from_tuning``: the best values `polymix tune` recorded for each model × task of the study."""
    pairs = [(model.name, task) for model in drive.study.models for task in drive.study.tasks]
    tuned = drive.tracker.tuned_values(drive.experiment_id, pairs)
    if not tuned:
        raise ConfigError(f"hparams: from_tuning, but experiment {drive.experiment!r} has no finished tuning run for "
                          f"{', '.join('/'.join(pair) for pair in pairs)}; run `polymix tune` on the study first "
                          "(or set hparams: train)")
    for (model, task), (values, run_id) in tuned.items():
        print(f"[polymix] {model}/{task}: tuned " + ", ".join(f"{k}={v:.4g}" for k, v in values.items())
              + f" (tuning run {run_id})", flush=True)
    for model, task in pairs:
        if (model, task) not in tuned:
            print(f"[polymix] {model}/{task}: no tuning run; the train section's values are used", flush=True)
    return tuned


def finished_runs(drive: Drive) -> dict[str, object]:
    """The newest finished trial run of each spec hash of the experiment (one query, not one per trial)."""
    by_hash = drive.tracker.runs_by_spec_hash(drive.experiment_id)
    return {spec_hash: run for spec_hash, runs in by_hash.items()
            for run in [next((r for r in runs if r.status == "FINISHED"), None)] if run is not None}


def log_runs_used(drive: Drive, trials: list[TrialSpec], finished: dict[str, object]) -> list[dict]:
    """A reused run stays the child of the sweep that trained it; this sweep's parent names every run it used
    (``finished``: :func:`finished_runs`)."""
    used = []
    for trial in trials:
        run = finished.get(trial.spec_hash)
        used.append({"trial": trial.label, "spec_hash": trial.spec_hash, "run_id": run.run_id if run else None,
                     "parent_run_id": run.tags.get(MLFLOW_PARENT_RUN_ID) if run else None})
    drive.tracker.log_text(drive.parent_run_id, json.dumps(used, indent=2), "trials.json")
    return used


def log_study_heatmap(drive: Drive, declared: list[TrialSpec], finished: dict[str, object]) -> None:
    """The sweep's accuracy at a glance on its parent run: ``accuracy_heatmap.png``, a panel per model × task, its
    mixtures (study order) × evaluation languages, from every finished run the sweep used."""
    from evaluation.report_figures import accuracy_heatmap, plt  # (draws off-screen: Agg)

    table = results_table([finished[t.spec_hash] for t in declared if t.spec_hash in finished])
    table = table[table["setting"] == "single"]
    if table.empty:
        return
    figure = accuracy_heatmap(table, drive.study.eval.language_list())
    figure.suptitle(f"{drive.study.name}: test accuracy per mixture and evaluation language", y=1.0)
    drive.tracker.log_figure(drive.parent_run_id, figure, "accuracy_heatmap.png")
    plt.close(figure)


def run_study(study: Study, workdir: Path = Path(".polymix"), address: str | None = None) -> dict:
    """Run every trial of ``study`` (reusing finished ones) and return the tracking coordinates."""
    if not study.mixtures:
        raise ConfigError(f"mixtures: study {study.name} declares none, only a ratio search; run `polymix climb` on it")
    drive = Drive.prepare(study, workdir, address, journal=True)
    tuned = tuned_settings(drive) if study.hparams == "from_tuning" else None
    declared = expand_trials(study, tuned)  # (the study's order: models, tasks, mixtures as the file lists them)
    trials, order = ordered_trials(study, declared)
    sweep_hash = study_hash(trials)
    reused_parent = drive.open_parent(sweep_hash, "sweep", {"n_trials": len(trials)})
    tracker, parent_run_id = drive.tracker, drive.parent_run_id
    # What the sweep will run, in the study's order, logged before it starts: a report on an unfinished study names
    # what is missing, and `polymix runs` lists its rows in this order.
    tracker.log_text(parent_run_id, json.dumps([{"trial": t.label, "spec_hash": t.spec_hash} for t in declared], indent=2),
                     "plan.json")
    # A resubmitted study (or the same command after a crash) schedules only what has no finished run yet.
    finished = finished_runs(drive)
    pending = [t for t in trials if t.spec_hash not in finished]
    print(f"[polymix] study {study.name}: {len(trials)} trials ({order}): {len(trials) - len(pending)} already finished "
          f"(reused, not trained again), {len(pending)} to run; MLflow experiment {drive.experiment!r}, parent run "
          f"{parent_run_id}{' (reused)' if reused_parent else ''}", flush=True)
    failed = reused_by_trials = 0
    if pending:
        with drive.failing_parent():
            results = _tune(drive, pending, sweep_hash)
        failed = sum(1 for r in results if r.error is not None)
        reused_by_trials = sum(1 for r in results if r.error is None and r.metrics.get("reused"))
    else:
        print("[polymix] nothing to train: every trial of this study already has a finished run", flush=True)
    waiting = drive.sync_journal()
    tracker.log_metrics(parent_run_id, {"trials_finished": len(trials) - failed, "trials_failed": failed,
                                        "trials_reused": len(trials) - len(pending) + reused_by_trials})
    # (with the server away, `polymix sync` completes the runs and the parent later)
    finished = None if waiting else finished_runs(drive)
    used = None if finished is None else log_runs_used(drive, trials, finished)
    if finished is not None:
        log_study_heatmap(drive, declared, finished)
    tracker.finish(parent_run_id, "FAILED" if failed else "FINISHED")
    return drive.coordinates(failed=failed, run_ids=None if used is None else [u["run_id"] for u in used if u["run_id"]])
