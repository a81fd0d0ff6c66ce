"""Run a study: materialise inputs, open the MLflow parent run, and hand every trial to Ray Tune."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import ray
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from ray import tune
from ray.tune import PlacementGroupFactory
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from search.designs import TrialResources, TrialSpec, expand_trials, study_hash
from search.planner import estimate, longest_first
from search.study import Study
from search.tracking import CREDENTIAL_ENV, Tracker, check_tracking_server, default_tracking_uri, split_credentials
from search.trial import trainable
from evaluation.scorers import scorer_for
from training.errors import ConfigError, DataError
from training.loaders import CONVERSION_FILE, prepare_sources
from training.models import make_tiny_model
from training.sources import load_parallel, sample_data_dir, split_path
from training.tasks import get_task


def resolve_data_dir(study: Study, workdir: Path) -> Path:
    """Where the trials read their data: a given layout, real datasets converted once, or the sample data."""
    if study.data.path:
        return Path(study.data.path).resolve()
    if study.data.sources:
        trained = study.training_languages()
        sources = {task: spec.model_dump() for task, spec in study.data.sources.items() if task in study.tasks}
        return prepare_sources(sources, trained, study.eval.language_list(), workdir, study.seed).resolve()
    return sample_data_dir(workdir, study.data.sample_seed).resolve()


def conversion_lines(data_dir: Path) -> list[str]:
    """What converting the real datasets read, skipped and kept, one line per task and split (none for sample data
    or a given layout)."""
    path = data_dir / CONVERSION_FILE
    if not path.is_file():
        return []
    lines = []
    for task, splits in json.loads(path.read_text(encoding="utf-8")).items():
        for split, counts in splits.items():
            kept = ", ".join(f"{lang} {n}/{counts['read'].get(lang, n)}" for lang, n in counts["kept"].items())
            skipped = "; ".join(f"{reason}: " + ", ".join(f"{lang} {n}" for lang, n in by_lang.items())
                                for reason, by_lang in counts["skipped"].items())
            held = f", {counts['validation']} per language held out for validation" if "validation" in counts else ""
            lines.append(f"{task} {split} ({counts['format']}): kept/read {kept}{held}" + (f"; skipped {skipped}" if skipped else ""))
    return lines


def log_conversion(tracker: Tracker, parent_run_id: str, data_dir: Path) -> None:
    """The conversion counts on the parent run (``data/conversion.json``), beside the runs they fed."""
    if (data_dir / CONVERSION_FILE).is_file():
        tracker.log_text(parent_run_id, (data_dir / CONVERSION_FILE).read_text(encoding="utf-8"), f"data/{CONVERSION_FILE}")


def check_data(study: Study, data_dir: Path) -> None:
    """Alignment and size checks on every split the study will read, before any job starts."""
    trained = study.training_languages()
    for task in study.tasks:
        train = load_parallel(data_dir, task, "train", trained)
        validation = load_parallel(data_dir, task, "validation", trained)
        test = load_parallel(data_dir, task, "test", study.eval.language_list())
        if row_problems := scorer_for(get_task(task)).row_problems:  # every example must be one the scorer can check
            for split, by_lang in (("train", train), ("validation", validation), ("test", test)):
                for lang, rows in by_lang.items():
                    for row, record in enumerate(rows, start=1):
                        if found := row_problems(record):
                            raise DataError(f"{split_path(data_dir, task, lang, split)}: row {row}: {found[0]}")
        available = len(next(iter(train.values())))
        for index, mixture in ((i, m) for i, entry in enumerate(study.mixtures) for m in entry.expanded()):
            for lang, count in mixture.counts(task).items():
                if count > available:
                    raise ConfigError(f"mixtures[{index}] ({mixture.name}): {count} {lang} examples asked, "
                                      f"{task} train has {available}; lower the count")
        if study.search is not None:  # a searched mixture may give the whole budget to one language
            total = study.search.total[task] if isinstance(study.search.total, dict) else study.search.total
            if total > available:
                raise ConfigError(f"search.total: {total} examples per run, but {task} train has {available} per "
                                  f"language and a mixture may give all of them to one language; lower search.total")


def resolve_model_paths(study: Study, data_dir: Path, workdir: Path) -> dict[str, str]:
    paths = {}
    # A tiny model's tokenizer learns from the train files of the study's tasks (its name says which), so that
    # long texts (summarization articles) do not outgrow max_seq_len in poorly merged scripts.
    files = sorted(f for f in data_dir.glob("*/*/train.jsonl") if f.parts[-3] in study.tasks)
    for model in study.models:
        if model.tiny:
            corpus = (line for f in files for line in f.read_text(encoding="utf-8").splitlines())
            target = workdir / "models" / f"tiny-{model.tiny}-seed{study.seed}-{data_dir.name}-{'-'.join(sorted(study.tasks))}"
            paths[model.name] = str(make_tiny_model(target, model.tiny, corpus, seed=study.seed).resolve())
        else:
            paths[model.name] = model.path
    return paths


class Progress(tune.Callback):
    """One line per change: trials done / running / pending and the current best, instead of Ray's logs."""

    def __init__(self, total: int, metric: str = "eval/avg_seen", label: Callable | None = None):
        self.total, self.metric = total, metric
        self.higher_is_better = not metric.endswith(("objective", "loss"))
        if label is not None:
            self._label = label
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
            loss = (f", val objective {result['val/objective']:.4f}" if "val/objective" in result
                    else f", val loss {result['val/avg_loss']:.4f}" if "val/avg_loss" in result else "")
            self._line(f"{self._label(trial)} epoch {result['epoch']}: val acc {result['val/avg_acc']:.3f}{loss}")

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.running.discard(trial.trial_id)
        self.done += 1
        value = trial.last_result.get(self.metric)
        baseline = trial.config.get("trial", {}).get("spec", {}).get("baseline", False)
        # A baseline has no seen languages (no eval/avg_seen) and never competes for the best.
        if value is not None and not baseline and (
                self.best is None or (value > self.best[0] if self.higher_is_better else value < self.best[0])):
            self.best = (value, self._label(trial))
        if "epoch" in trial.last_result:  # its last report is an epoch's, not the trial's own: a scheduler stopped it
            self._line(f"stopped {self._label(trial)} after epoch {trial.last_result['epoch']} (early stopping)")
            return
        reused = " (reused finished run)" if trial.last_result.get("reused") else ""
        self._line(f"finished {self._label(trial)}{reused}")

    def on_trial_error(self, iteration, trials, trial, **info):
        self.running.discard(trial.trial_id)
        self.failed += 1
        self._line(f"FAILED {self._label(trial)}")


# Ray Train V2 gives each trial's workers a placement group of their own, outside the trial's, so Tune
# cannot see the GPUs a trial is about to take. Each GPU trial therefore holds one admission ticket per
# GPU of its worker group: a custom resource declared equal to the GPUs on every node (cluster.yaml, or
# the local instance). Tune admits pending trials in order while tickets last, so the workers always find
# their GPUs free and the trial order chosen by polymix is the order in which the cluster fills.
GPU_TICKET = "polymix_gpu_ticket"


def _credentials_for_workers() -> dict | None:
    """A remote cluster's workers do not inherit the driver's environment: the tracking credentials go in the job's
    runtime env, except those a submitted job's runtime env already sets (Ray refuses to merge a variable twice)."""
    job = json.loads(os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR", "{}"))
    already = (job.get("runtime_env") or {}).get("env_vars") or {}
    credentials = {name: os.environ[name] for name in CREDENTIAL_ENV if name in os.environ and name not in already}
    return {"env_vars": credentials} if credentials else None


def init_ray(study: Study, address: str | None, workdir: Path) -> None:
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    common = dict(log_to_driver=False, configure_logging=True, logging_level="ERROR")
    if address:
        ray.init(address=address, runtime_env=_credentials_for_workers(), **common)
    else:  # the embedded default: a local instance bound to this machine only
        r = study.resources
        cpus = r.local_cpus or max(os.cpu_count() or 2, 2)
        # The dashboard serves Ray's state API, which Train V2's PlacementGroupCleaner polls to free the workers'
        # placement group of a trial whose actor ended mid-training (an early-stopped or failed trial). Without
        # it such placement groups stay reserved and the next trials wait for resources forever (measured).
        ray.init(num_cpus=cpus, num_gpus=r.local_gpus, resources={GPU_TICKET: r.local_gpus} if r.local_gpus else None,
                 include_dashboard=True, dashboard_host="127.0.0.1", **common)


def trial_resources(trials: list[TrialSpec], cluster: dict) -> tuple[Callable[[dict], PlacementGroupFactory], int, str | None]:
    """Tune's per-trial resource request, a bound on concurrent trials, and a note for the user (or None).

    CPU trials: the concurrency bound is what fits (else trial functions hold CPUs their workers wait for).
    GPU trials: admission by GPU tickets when the cluster declares them; otherwise a conservative bound.
    """
    def request(config: dict) -> PlacementGroupFactory:
        # A grid trial carries its whole spec; a searched mixture carries the spec it completes (ratio_search).
        spec = config["trial"]["spec"] if "trial" in config else config["base"]
        gpus = TrialResources.model_validate(spec["resources"]).gpus
        tickets = {GPU_TICKET: gpus} if gpus and cluster.get(GPU_TICKET) else {}
        return PlacementGroupFactory([{"CPU": 1, **tickets}])

    widest = max(t.resources.gpus for t in trials)
    if not widest:
        per_trial = max(1 + t.resources.workers * t.resources.cpus_per_worker for t in trials)
        return request, int(cluster.get("CPU", 1) // per_trial), None
    gpus = cluster.get("GPU", 0)
    if cluster.get(GPU_TICKET):
        narrowest = min(t.resources.gpus for t in trials if t.resources.gpus)
        return request, int(gpus // narrowest), None
    note = (f"the cluster declares no {GPU_TICKET!r} resource: at most {int(gpus // widest)} trials at a time. Declare "
            f"{GPU_TICKET} = the node's GPU count on every GPU node (see cluster.yaml) to pack trials of different sizes")
    return request, int(gpus // widest), note


def tune_config(max_concurrent: int) -> tune.TuneConfig:
    """The Tune settings every sweep (and the scheduling benchmark) runs with.

    Trial actors are reused: a finished trial's process (with torch and transformers already imported)
    takes the next trial of the same resource shape, instead of a new process per trial, which costs
    seconds of start-up each and, on a small head node, delays admission (measured: 40 two-second trials,
    8 at a time, 35.3 s without reuse, 10.6 s with it; ideal 10 s).
    """
    return tune.TuneConfig(max_concurrent_trials=max_concurrent, reuse_actors=True)


STOPPED_BY_ASHA = "stopped early by ASHA"  # the STOPPED_TAG of a run ASHA stopped


class RecordingASHA(ASHAScheduler):
    """ASHA that hands every trial it stops to ``on_stop`` (with the trial's config) before Tune acts on the
    decision, so that the trial's run is known to be stopped, not failed, whatever the trial does meanwhile."""

    def __init__(self, on_stop: Callable[[dict], None] | None = None, **asha):
        super().__init__(**asha)
        self.on_stop = on_stop

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        decision = super().on_trial_result(tune_controller, trial, result)
        if decision == TrialScheduler.STOP and self.on_stop is not None:
            self.on_stop(trial.config)
        return decision


def early_stopping(metric: str, mode: str, max_epochs: int, on_stop: Callable[[dict], None] | None = None):
    """ASHA with its rungs at epochs (the per-epoch reports carry ``epoch``; training/sft.py): 1, 2, 4, ... below
    the last epoch, or None for one-epoch trials (nothing to stop early). A trial that reaches its last epoch is
    never stopped: its training is done, it goes on to its test evaluation. (ASHA puts a rung at ``max_t`` when it
    is a power of the reduction factor, so ``max_t`` is the epoch before the last, and ``stop_last_trials=False``.)
    ``on_stop`` gets the config of each trial stopped, before Tune stops it (search.tracking.StopRecorder).

    A trial ASHA stops is in the middle of TorchTrainer.fit(): its actor cannot be reused (run such a Tuner with
    ``reuse_actors=False``), and it must end for the trainer it owns to end too. Tune ends a stopping actor after
    TUNE_FORCE_TRIAL_CLEANUP_S (default 600 s, a stalled search); Train V2 then frees the workers' placement group.
    """
    if max_epochs < 2:
        return None
    os.environ.setdefault("TUNE_FORCE_TRIAL_CLEANUP_S", "5")
    return RecordingASHA(on_stop, time_attr="epoch", metric=metric, mode=mode, max_t=max_epochs - 1, grace_period=1,
                         reduction_factor=2, stop_last_trials=False)


def ordered_trials(study: Study, trials: list[TrialSpec]) -> tuple[list[TrialSpec], str]:
    """Longest-first order (planner's cost model) when the study gives what it needs, else the file's order."""
    try:
        return [cost.trial for cost in longest_first(estimate(study, trials))], "longest first"
    except ConfigError:  # no models[].params or plan.tokens_per_example: no cost model to order by
        return trials, "study order (declare models[].params and plan.tokens_per_example for longest-first)"


def prepare_inputs(study: Study, workdir: Path) -> tuple[Path, str, Path, dict[str, str]]:
    """Before anything runs: the work directory, a tracking server that answers, the data (checked) and the
    models. Returns the work directory, the tracking URI, the data directory and the model paths."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or study.tracking.uri or default_tracking_uri(workdir)
    # A password in the URI moves to the environment: this process's MLflow clients read it there, and so do a
    # local Ray's workers, which inherit it (a remote cluster's get it from init_ray).
    tracking_uri, credentials = split_credentials(tracking_uri)
    os.environ.update(credentials)
    check_tracking_server(tracking_uri)
    data_dir = resolve_data_dir(study, workdir)
    for line in conversion_lines(data_dir):
        print(f"[polymix] data {line}", flush=True)
    check_data(study, data_dir)
    return workdir, tracking_uri, data_dir, resolve_model_paths(study, data_dir, workdir)


def _tune(study: Study, trials: list[TrialSpec], address: str | None, workdir: Path, sweep_hash: str,
          model_paths: dict[str, str], context: dict):
    """Hand ``trials`` to Ray Tune, in their order, and wait for all of them."""
    param_space = {"trial": tune.grid_search([
        {"spec": t.model_dump(mode="json"), "context": {**context, "model_path": model_paths[t.model.name]}} for t in trials
    ])}
    init_ray(study, address, workdir)
    request, fits, note = trial_resources(trials, ray.cluster_resources())
    max_concurrent = max(1, min(fits, study.resources.max_concurrent_trials or fits, len(trials)))
    print(f"[polymix] up to {max_concurrent} trials at a time", flush=True)
    if note:
        print(f"[polymix] note: {note}", flush=True)
    tuner = tune.Tuner(
        tune.with_resources(trainable, request),
        param_space=param_space,
        tune_config=tune_config(max_concurrent),
        run_config=tune.RunConfig(
            name=f"{study.name}-{sweep_hash}", storage_path=str(workdir / "ray_results"), verbose=0,
            callbacks=[Progress(len(trials))],
        ),
    )
    return tuner.fit()


def tuned_settings(study: Study, tracker: Tracker, experiment_id: str, experiment: str) -> dict:
    """``hparams: from_tuning``: the best values `polymix tune` recorded for each model × task of the study."""
    pairs = [(model.name, task) for model in study.models for task in study.tasks]
    tuned = tracker.tuned_values(experiment_id, pairs)
    if not tuned:
        raise ConfigError(f"hparams: from_tuning, but experiment {experiment!r} has no finished tuning run for "
                          f"{', '.join('/'.join(pair) for pair in pairs)}; run `polymix tune` on the study first "
                          "(or set hparams: train)")
    for (model, task), (values, run_id) in tuned.items():
        print(f"[polymix] {model}/{task}: tuned " + ", ".join(f"{k}={v:.4g}" for k, v in values.items())
              + f" (tuning run {run_id})", flush=True)
    for model, task in pairs:
        if (model, task) not in tuned:
            print(f"[polymix] {model}/{task}: no tuning run; the train section's values are used", flush=True)
    return tuned


def run_study(study: Study, workdir: Path = Path(".polymix"), address: str | None = None) -> dict:
    """Run every trial of ``study`` (reusing finished ones) and return the tracking coordinates."""
    if not study.mixtures:
        raise ConfigError(f"mixtures: study {study.name} declares none, only a ratio search; run `polymix climb` on it")
    workdir, tracking_uri, data_dir, model_paths = prepare_inputs(study, workdir)
    experiment = study.tracking.experiment or study.name
    journal_dir = workdir / "ray_results" / "tracking_journal"
    tracker = Tracker(tracking_uri, journal_dir)
    experiment_id = tracker.experiment_id(experiment, workdir / "mlartifacts" / experiment)
    tuned = tuned_settings(study, tracker, experiment_id, experiment) if study.hparams == "from_tuning" else None
    trials, order = ordered_trials(study, expand_trials(study, tuned))
    sweep_hash = study_hash(trials)
    parent_run_id, reused_parent = tracker.parent_run(
        experiment_id, sweep_hash, study.name, {"n_trials": len(trials)}, study=study
    )
    log_conversion(tracker, parent_run_id, data_dir)
    # What the sweep will run, logged before it starts: a report on an unfinished study names what is missing.
    tracker.log_text(parent_run_id, json.dumps([{"trial": t.label, "spec_hash": t.spec_hash} for t in trials], indent=2),
                     "plan.json")
    # A resubmitted study (or the same command after a crash) schedules only what has no finished run yet.
    finished = {spec_hash for spec_hash, runs in tracker.runs_by_spec_hash(experiment_id).items()
                if any(run.info.status == "FINISHED" for run in runs)}
    pending = [t for t in trials if t.spec_hash not in finished]
    print(f"[polymix] study {study.name}: {len(trials)} trials ({order}): {len(trials) - len(pending)} already finished "
          f"(reused, not trained again), {len(pending)} to run; MLflow experiment {experiment!r}, parent run "
          f"{parent_run_id}{' (reused)' if reused_parent else ''}", flush=True)
    failed = reused_by_trials = 0
    if pending:
        results = _tune(study, pending, address, workdir, sweep_hash, model_paths, dict(
            tracking_uri=tracking_uri, experiment_id=experiment_id, parent_run_id=parent_run_id,
            data_dir=str(data_dir), storage_path=str(workdir / "ray_results"), journal_dir=str(journal_dir)))
        failed = sum(1 for r in results if r.error is not None)
        reused_by_trials = sum(1 for r in results if r.error is None and r.metrics.get("reused"))
    else:
        print("[polymix] nothing to train: every trial of this study already has a finished run", flush=True)
    # What trials logged while the tracking server was away goes to MLflow now, if it is back.
    synced, waiting = tracker.sync()
    if synced or waiting:
        print(f"[polymix] tracking journal: {synced} run(s) written to MLflow after an outage"
              + (f"; {len(waiting)} still kept in {journal_dir} (the server does not answer): run `polymix sync` "
                 "once it is back" if waiting else ""), flush=True)
    tracker.log_metrics(parent_run_id, {"trials_finished": len(trials) - failed, "trials_failed": failed,
                                        "trials_reused": len(trials) - len(pending) + reused_by_trials})
    used = None
    if not waiting:  # (with the server away, `polymix sync` completes the runs and the parent later)
        # A reused run stays the child of the sweep that trained it; this sweep's parent names every run it used.
        by_hash = tracker.runs_by_spec_hash(experiment_id)  # one query, not one per trial
        used = []
        for trial in trials:
            run = next((r for r in by_hash.get(trial.spec_hash, []) if r.info.status == "FINISHED"), None)
            used.append({"trial": trial.label, "spec_hash": trial.spec_hash, "run_id": run.info.run_id if run else None,
                         "parent_run_id": run.data.tags.get(MLFLOW_PARENT_RUN_ID) if run else None})
        tracker.log_text(parent_run_id, json.dumps(used, indent=2), "trials.json")
    tracker.finish(parent_run_id, "FAILED" if failed else "FINISHED")
    return {"tracking_uri": tracking_uri, "experiment": experiment, "parent_run_id": parent_run_id, "failed": failed,
            "run_ids": None if used is None else [u["run_id"] for u in used if u["run_id"]]}
