"""Run a study: materialise inputs, open the MLflow parent run, and hand every trial to Ray Tune."""

from __future__ import annotations

import os
import time
from pathlib import Path

import ray
from ray import tune

from search.designs import TrialSpec, expand_trials, study_hash
from search.study import Study
from search.tracking import Tracker, default_tracking_uri
from search.trial import trainable
from training.errors import ConfigError
from training.models import make_tiny_model
from training.sources import load_parallel, sample_data_dir


def resolve_data_dir(study: Study, workdir: Path) -> Path:
    return Path(study.data.path).resolve() if study.data.path else sample_data_dir(workdir, study.data.sample_seed).resolve()


def check_data(study: Study, data_dir: Path) -> None:
    """Alignment and size checks on every split the study will read, before any job starts."""
    trained = sorted({lang for m in study.mixtures for lang in m.counts()})
    for task in study.tasks:
        train = load_parallel(data_dir, task, "train", trained)
        load_parallel(data_dir, task, "validation", trained)
        load_parallel(data_dir, task, "test", study.eval.language_list())
        available = len(next(iter(train.values())))
        for index, mixture in enumerate(study.mixtures):
            for lang, count in mixture.counts().items():
                if count > available:
                    raise ConfigError(f"mixtures[{index}] ({mixture.name}): {count} {lang} examples asked, "
                                      f"{task} train has {available}; lower the count")


def resolve_model_paths(study: Study, data_dir: Path, workdir: Path) -> dict[str, str]:
    paths = {}
    for model in study.models:
        if model.tiny:
            corpus = (line for f in sorted(data_dir.glob("*/*/train.jsonl")) for line in f.read_text(encoding="utf-8").splitlines())
            target = workdir / "models" / f"tiny-{model.tiny}-seed{study.seed}-{data_dir.name}"
            paths[model.name] = str(make_tiny_model(target, model.tiny, corpus, seed=study.seed).resolve())
        else:
            paths[model.name] = model.path
    return paths


class Progress(tune.Callback):
    """One line per change: trials done / running / pending and the current best, instead of Ray's logs."""

    def __init__(self, total: int, metric: str = "eval/avg_seen"):
        self.total, self.metric = total, metric
        self.running, self.done, self.failed, self.best = set(), 0, 0, None
        self.started = time.time()

    def _line(self, event: str) -> None:
        pending = self.total - self.done - self.failed - len(self.running)
        best = f" · best {self.metric} {self.best[0]:.3f} ({self.best[1]})" if self.best else ""
        print(f"[polymix {time.time() - self.started:5.0f}s] {self.done}/{self.total} done · {len(self.running)} running · "
              f"{pending} pending{' · ' + str(self.failed) + ' failed' if self.failed else ''}{best} — {event}", flush=True)

    @staticmethod
    def _label(trial) -> str:
        spec = trial.config["trial"]["spec"]
        return f"{spec['model']['name']}/{spec['task']}/{spec['mixture']}"

    def on_trial_start(self, iteration, trials, trial, **info):
        self.running.add(trial.trial_id)
        self._line(f"started {self._label(trial)}")

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if "epoch" in result and "val/avg_acc" in result:
            self._line(f"{self._label(trial)} epoch {result['epoch']}: val acc {result['val/avg_acc']:.3f}")

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.running.discard(trial.trial_id)
        self.done += 1
        value = trial.last_result.get(self.metric)
        if value is not None and not trial.config["trial"]["spec"]["baseline"] and (self.best is None or value > self.best[0]):
            self.best = (value, self._label(trial))
        reused = " (reused finished run)" if trial.last_result.get("reused") else ""
        self._line(f"finished {self._label(trial)}{reused}")

    def on_trial_error(self, iteration, trials, trial, **info):
        self.running.discard(trial.trial_id)
        self.failed += 1
        self._line(f"FAILED {self._label(trial)}")


def init_ray(study: Study, address: str | None, workdir: Path) -> None:
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    common = dict(log_to_driver=False, configure_logging=True, logging_level="ERROR")
    if address:
        ray.init(address=address, **common)
    else:  # the embedded default: a local instance, dashboard off, bound to this machine only
        cpus = study.resources.local_cpus or max(os.cpu_count() or 2, 2)
        ray.init(num_cpus=cpus, include_dashboard=False, **common)


def concurrency(study: Study, n_trials: int) -> int:
    """Trials at once = what the cluster fits; else trial functions hold CPUs their workers then wait for."""
    r = study.resources
    cluster = ray.cluster_resources()
    if r.gpus_per_worker:
        fits = int(cluster.get("GPU", 0) // (r.workers_per_trial * r.gpus_per_worker))
    else:
        fits = int(cluster.get("CPU", 1) // (1 + r.workers_per_trial * r.cpus_per_worker))
    return max(1, min(fits, r.max_concurrent_trials or fits, n_trials))


def run_study(study: Study, workdir: Path = Path(".polymix"), address: str | None = None) -> dict:
    """Run every trial of ``study`` (reusing finished ones) and return the tracking coordinates."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = resolve_data_dir(study, workdir)
    check_data(study, data_dir)
    trials: list[TrialSpec] = expand_trials(study)
    model_paths = resolve_model_paths(study, data_dir, workdir)

    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or study.tracking.uri or default_tracking_uri(workdir)
    experiment = study.tracking.experiment or study.name
    tracker = Tracker(tracking_uri)
    experiment_id = tracker.experiment_id(experiment, workdir / "mlartifacts" / experiment)
    sweep_hash = study_hash(trials)
    parent_run_id, reused_parent = tracker.parent_run(
        experiment_id, sweep_hash, study.name, {"study": study.model_dump(mode="json"), "n_trials": len(trials)}
    )
    context = dict(tracking_uri=tracking_uri, experiment_id=experiment_id, parent_run_id=parent_run_id,
                   data_dir=str(data_dir), storage_path=str(workdir / "ray_results"), resources=study.resources.model_dump())
    param_space = {"trial": tune.grid_search([
        {"spec": t.model_dump(mode="json"), "context": {**context, "model_path": model_paths[t.model.name]}} for t in trials
    ])}

    init_ray(study, address, workdir)
    max_concurrent = concurrency(study, len(trials))
    print(f"[polymix] study {study.name}: {len(trials)} trials, {max_concurrent} at a time; "
          f"MLflow experiment {experiment!r}, parent run {parent_run_id}{' (reused)' if reused_parent else ''}", flush=True)
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"CPU": 1}),
        param_space=param_space,
        tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent),
        run_config=tune.RunConfig(
            name=f"{study.name}-{sweep_hash}", storage_path=str(workdir / "ray_results"), verbose=0,
            callbacks=[Progress(len(trials))],
        ),
    )
    results = tuner.fit()
    failed = sum(1 for r in results if r.error is not None)
    tracker.log_metrics(parent_run_id, {"trials_finished": len(trials) - failed, "trials_failed": failed})
    tracker.finish(parent_run_id, "FAILED" if failed else "FINISHED")
    return {"tracking_uri": tracking_uri, "experiment": experiment, "parent_run_id": parent_run_id, "failed": failed}
