"""`polymix tune`: search training hyperparameters per model × task on a reference mixture, with Ray Tune's own
searchers (OptunaSearch TPE, random, grid) and ASHA early stopping.

Every sample is an ordinary SFT trial (search/runs/trial.py): an MLflow child run of the tuning's parent run, keyed by
its spec hash, so a grid run with the best values later *is* the best tuning trial and is reused, not retrained.
The parent run (``polymix.kind = tuning``) keeps, per model × task, ``tuning/<model>-<task>.json`` (every trial,
the best values) and the tag ``polymix.tuned.<model>.<task>`` that ``hparams: from_tuning`` reads
(search/runs/sweep.py); ``WORKDIR/tuning/<experiment>.json`` holds the same best values for people.
"""

from __future__ import annotations

import json
from pathlib import Path

import ray
from ray import tune

from search.mixtures.searchers import tpe_sampler
from search.runs.cluster import concurrency, run_config, trial_resources
from search.runs.designs import TrialSpec, model_settings
from search.runs.driver import Drive, content_hash
from search.runs.early_stopping import STOPPED_BY_ASHA, early_stopping
from search.runs.progress import Progress
from search.runs.trial import run_trial
from search.study import TUNABLE, Distribution, Study, TuningConfig
from search.tracking import StopRecorder, Tracker, redact_uri, tuned_tag
from training.errors import ConfigError, PolymixError


def tune_domain(distribution: Distribution, grid: bool = False):
    if distribution.loguniform is not None:
        return tune.loguniform(*distribution.loguniform)
    if distribution.uniform is not None:
        return tune.uniform(*distribution.uniform)
    if distribution.int_ is not None:
        low, high = distribution.int_
        return tune.randint(low, high + 1)  # the study's bounds are inclusive, Tune's upper bound is not
    return tune.grid_search(list(distribution.choice)) if grid else tune.choice(list(distribution.choice))


def tune_space(tuning: TuningConfig, grid: bool | None = None) -> dict:
    """``{hyperparameter: Tune domain}``: OptunaSearch, the random searcher and the grid all take Tune's domains."""
    grid = tuning.searcher == "grid" if grid is None else grid
    return {name: tune_domain(distribution, grid) for name, distribution in tuning.space.items()}


def sampled(hparams: dict) -> dict:
    """A searcher's sample as training settings of the right types (Tune's samplers give numpy numbers)."""
    return {name: TUNABLE[name](value) for name, value in hparams.items()}


def describe(hparams: dict) -> str:
    return ", ".join(f"{name}={value:.4g}" for name, value in hparams.items())


def tuning_spec(config: dict) -> TrialSpec:
    return TrialSpec.model_validate(config["base"]).with_hparams(sampled(config["hparams"]))


def tuning_spec_hash(config: dict) -> str:
    return tuning_spec(config).spec_hash


def tuning_trainable(config: dict) -> None:
    """Tune's entry point for one sample: the ordinary SFT trial with the sampled settings."""
    run_trial({"spec": tuning_spec(config).model_dump(mode="json"), "context": config["context"]})


def plan_tunings(study: Study) -> list[TrialSpec]:
    """One base trial per tuned model × task: the reference mixture with the study's (profile's) settings."""
    tuning = study.tuning
    mixture = next(m for m in study.design_mixtures if m.name == tuning.mixture)
    bases = []
    for model in study.models:
        if tuning.models is not None and model.name not in tuning.models:
            continue
        train, resources = model_settings(study, model)
        for task in study.tasks:
            bases.append(TrialSpec(study=study.name, model=model, task=task, mixture=mixture.name,
                                   counts=mixture.counts(task), train=train, eval=study.eval, data=study.data,
                                   seed=study.seed, resources=resources, content_pool=study.content_pool()))
    return bases


def _searcher(tuning: TuningConfig, concurrent: int):
    if tuning.searcher == "optuna":
        from ray.tune.search.optuna import OptunaSearch

        # A finished trial's last report gives the kept epoch's value (search/runs/trial.py); a trial ASHA stopped,
        # the value at the rung where it was stopped.
        return OptunaSearch(metric=tuning.metric, mode=tuning.mode, sampler=tpe_sampler(tuning.seed, tuning.trials))
    from ray.tune.search import BasicVariantGenerator

    # Random samples, or every grid combination. Tune ignores TuneConfig.max_concurrent_trials for a generator it
    # is handed (it only wraps a Searcher), so the bound is the generator's own: without it every trial function
    # starts at once and holds a CPU that the running trials' workers need.
    return BasicVariantGenerator(random_state=tuning.seed, max_concurrent=concurrent)


def max_epochs(tuning: TuningConfig, base: TrialSpec) -> int:
    epochs = tuning.space.get("epochs")
    if epochs is None:
        return base.train.epochs
    return max(epochs.choice or epochs.int_)


def tune_one(study: Study, base: TrialSpec, context: dict, tracker: Tracker, parent_run_id: str, workdir: Path) -> dict:
    """One model × task: the sweep, then what it found, recorded on the parent run. Returns the summary."""
    tuning = study.tuning
    label = f"{base.model.name}/{base.task}"
    total = tuning.trials
    if tuning.searcher == "grid":
        total = 1
        for distribution in tuning.space.values():
            total *= len(distribution.choice)
    recorder = StopRecorder(context["tracking_uri"], context["experiment_id"], tuning_spec_hash, STOPPED_BY_ASHA)
    scheduler = early_stopping(tuning.metric, tuning.mode, max_epochs(tuning, base), recorder) if tuning.asha else None
    request, fits, _ = trial_resources([base], ray.cluster_resources())
    concurrent = concurrency(study, fits, total)
    print(f"[polymix] tuning {label} on mixture {base.mixture}: {tuning.searcher}, {total} trials, {concurrent} at a time"
          f"{', ASHA on ' + tuning.metric if scheduler else ''}", flush=True)
    tuner = tune.Tuner(
        tune.with_resources(tuning_trainable, request),
        param_space={"base": base.model_dump(mode="json"), "hparams": tune_space(tuning), "context": context},
        tune_config=tune.TuneConfig(search_alg=_searcher(tuning, concurrent), scheduler=scheduler, num_samples=tuning.trials,
                                    max_concurrent_trials=concurrent, reuse_actors=scheduler is None),
        run_config=run_config(f"{study.name}-tuning-{base.spec_hash}", workdir,
                              [Progress(total, metric=f"selected/{tuning.metric}",
                                        label=lambda trial: f"{label} {describe(sampled(trial.config['hparams']))}")]),
    )
    results = tuner.fit()
    selected = f"selected/{tuning.metric}"
    trials, stopped = [], set(recorder.stopped)  # what ASHA decided, whether the trial then ended in an error or not
    for result in results:
        spec, metrics = tuning_spec(result.config), result.metrics or {}
        entry = {"hparams": sampled(result.config["hparams"]), "spec_hash": spec.spec_hash}
        if spec.spec_hash in stopped:  # after the report of the rung it failed
            entry.update(status="stopped", at_epoch=metrics.get("epoch"), value_at_stop=metrics.get(tuning.metric))
        elif result.error is not None or selected not in metrics:
            entry["status"] = "failed"
        else:
            entry.update(status="finished", value=metrics[selected], reused=bool(metrics.get("reused")))
        trials.append(entry)
    if stopped:  # (runs left RUNNING by an actor that ended without an exception)
        tracker.mark_stopped(context["experiment_id"], sorted(stopped), STOPPED_BY_ASHA)
    finished = [t for t in trials if t["status"] == "finished"]
    if not finished:
        raise PolymixError(f"tuning {label}: no trial finished; see the trial errors above")
    best = (min if tuning.mode == "min" else max)(finished, key=lambda t: t["value"])
    best_run = tracker.finished_child(context["experiment_id"], best["spec_hash"])
    summary = {"model": base.model.name, "task": base.task, "mixture": base.mixture, "searcher": tuning.searcher,
               "metric": selected, "mode": tuning.mode, "space": {k: v.model_dump(by_alias=True, exclude_none=True)
                                                                   for k, v in tuning.space.items()},
               "trials_finished": len(finished), "trials_stopped_early": len(stopped),
               "trials_failed": sum(t["status"] == "failed" for t in trials),
               "stopped_at_epoch": {str(e): sum(t.get("at_epoch") == e for t in trials)
                                    for e in sorted({t["at_epoch"] for t in trials if t["status"] == "stopped"})},
               "best": {**best, "run_id": best_run.run_id if best_run else None},
               "trials": sorted(trials, key=lambda t: (t["status"] != "finished", t.get("value", 0) * (1 if tuning.mode == "min" else -1)))}
    folder = f"tuning/{base.model.name}-{base.task}"
    tracker.log_text(parent_run_id, json.dumps(summary, indent=2), f"{folder}.json")
    tracker.log_metrics(parent_run_id, {f"{folder}/best/{tuning.metric}": best["value"],
                                        f"{folder}/trials_stopped_early": len(stopped)})
    tracker.set_tags(parent_run_id, {tuned_tag(base.model.name, base.task): json.dumps(best["hparams"])})
    return summary


def format_summary(summary: dict) -> str:
    rungs = ", ".join(f"{n} at epoch {epoch}" for epoch, n in summary["stopped_at_epoch"].items())
    lines = [f"tuning {summary['model']}/{summary['task']} on {summary['mixture']} ({summary['searcher']}): "
             f"{summary['trials_finished']} finished, {summary['trials_stopped_early']} stopped early by ASHA"
             + (f" ({rungs})" if rungs else "") + (f", {summary['trials_failed']} failed" if summary["trials_failed"] else "")]
    best = summary["best"]
    lines.append(f"  best: {describe(best['hparams'])}  {summary['metric']} {best['value']:.4f} (run {best['run_id']})")
    for trial in summary["trials"]:
        outcome = (f"{trial['value']:.4f}" if trial["status"] == "finished" else
                   f"stopped at epoch {trial['at_epoch']} ({trial['value_at_stop']:.4f})" if trial["status"] == "stopped"
                   else "failed")
        lines.append(f"    {describe(trial['hparams']):<40} {outcome}")
    return "\n".join(lines)


def run_tuning(study: Study, workdir: Path = Path(".polymix"), address: str | None = None) -> dict:
    """Tune every model × task of the study's `tuning` section; record the best values; return where."""
    if study.tuning is None:
        raise ConfigError("tuning: not set; `polymix tune` needs a `tuning` section (see configs/tune_smoke.yaml)")
    if study.tuning.mixture is None:
        raise ConfigError("tuning.mixture: not set; `polymix tune` trains on a reference mixture: name one of the "
                          f"study's mixtures ({', '.join(m.name for m in study.design_mixtures) or 'none declared'}) or pass --mixture")
    drive = Drive.prepare(study, workdir, address)
    bases = plan_tunings(study)
    reused = drive.open_parent(content_hash([study.tuning.model_dump(mode="json"), [b.spec_hash for b in bases]]), "tuning")
    print(f"[polymix] study {study.name}: hyperparameter tuning of {', '.join(study.tuning.space)}; MLflow experiment "
          f"{drive.experiment!r}, tuning run {drive.parent_run_id}{' (reused)' if reused else ''}", flush=True)
    summaries = drive.run_each(bases, lambda base, context: tune_one(study, base, context, drive.tracker,
                                                                     drive.parent_run_id, drive.workdir),
                               format_summary)
    best = {}
    for s in summaries:
        best.setdefault(s["model"], {})[s["task"]] = {**s["best"], "metric": s["metric"]}
    best_file = drive.workdir / "tuning" / f"{drive.experiment}.json"
    best_file.parent.mkdir(parents=True, exist_ok=True)
    best_file.write_text(json.dumps({"experiment": drive.experiment, "tracking_uri": redact_uri(drive.tracking_uri),
                                     "tuning_run_id": drive.parent_run_id, "best": best}, indent=2) + "\n")
    return drive.coordinates(summaries=summaries, best_file=best_file)
