"""The Tune trainable: one trial = one TrialSpec → SFT (a TorchTrainer, or this process for a one-CPU-worker job) →
test evaluation → MLflow child run."""

from __future__ import annotations

import json
import socket
import time
from functools import partial
from pathlib import Path

import ray
import ray.train
from ray import tune
from ray.train.torch import TorchTrainer
from ray.tune.integration.ray_train import TuneReportCallback

from evaluation.evaluate import evaluate_languages, language_metrics, summarize, validation_accuracy
from search.runs.designs import TrialSpec
from search.tracking import CHECKPOINT_TAG, NODE_TAG, SEARCH_KEY_TAG, MLflowEpochLogger, Tracker
from training.models import language_model_parameters, load_model, load_tokenizer, model_family
from training.session import LocalSession
from training.sft import SELECTION_METRIC, SFTJob, run_sft, train_loop
from training.sources import load_parallel


def evaluate_model_dir(model_source, tasks: list[str], data_dir: str, languages: list[str], test_examples,
                       batch_size: int, wrong_language_scores_zero: bool = False,
                       budgets: dict[str, int] | None = None) -> tuple[dict, dict, float]:
    """Test-split evaluation of every task in every language (``{task: {lang: result}}``) with each task's
    generation budget (``budgets``), what the report needs to know of the model (its language model's size and
    its family, read from the model itself), and the seconds the evaluation took once the model was loaded;
    ``model_source`` is a Ray Checkpoint or a model path."""
    tests = {task: load_parallel(data_dir, task, "test", languages) for task in tasks}
    if test_examples:
        tests = {task: {lang: rows.select(range(min(test_examples, len(rows)))) for lang, rows in test.items()}
                 for task, test in tests.items()}

    def run(path: str) -> dict:
        model, tokenizer = load_model(path), load_tokenizer(path)
        model.to("cuda" if ray.get_gpu_ids() else "cpu")
        about = {"model_params": language_model_parameters(model), "model_family": model_family(model.config.model_type)}
        started = time.time()
        results = {task: evaluate_languages(model, tokenizer, task, test, batch_size, wrong_language_scores_zero,
                                            (budgets or {}).get(task))
                   for task, test in tests.items()}
        return results, about, time.time() - started

    if isinstance(model_source, ray.train.Checkpoint):
        with model_source.as_directory() as path:
            return run(path)
    return run(model_source)


def sft_job(spec: TrialSpec, model_path: str, data_dir: str, objective_weights: dict[str, float] | None = None) -> SFTJob:
    return SFTJob(model_path=model_path, task=spec.task, data_dir=data_dir, counts=spec.counts, seed=spec.seed,
                  validation_languages=spec.validation_languages or None, objective_weights=objective_weights,
                  task_counts=spec.tasks or None, train=spec.train, content_pool=spec.content_pool or None)


def trial_params(spec: TrialSpec) -> dict:
    return {
        "model": spec.model.name, "model_source": spec.model.path or f"tiny-{spec.model.tiny}", "task": spec.task,
        "mixture": spec.mixture, "languages": ",".join(spec.counts) or "none", "counts": spec.counts,
        "n_languages": len(spec.counts), "baseline": spec.baseline, "seed": spec.seed,
        "content": "disjoint" if spec.content_pool else "parallel",
        **{f"train.{k}": v for k, v in spec.train.model_dump().items()},
        **({"tuned_from": spec.tuned_from} if spec.tuned_from else {}),
        "setting": "multi" if spec.tasks else "single", **({"tasks": spec.tasks} if spec.tasks else {}),
        **({"dose": spec.dose, "dose_languages": ",".join(spec.dose_languages)} if spec.dose is not None else {}),
        **{f"eval.max_new_tokens.{task}": budget for task, budget in budgets(spec).items()},
    }


def budgets(spec: TrialSpec) -> dict[str, int]:
    """The generation budget of each task the run is validated and tested on."""
    return {task: spec.eval.budget(task) for task in spec.task_counts()}


def eval_metrics(spec: TrialSpec, results: dict[str, dict]) -> dict[str, float]:
    """What a run logs of its test evaluation: per language ``eval/acc/<lang>``, the seen / unseen averages, the task's
    further metrics and the fidelity; a multi-task run logs each task's under ``eval/<task>/...`` and averages the
    tasks' ``eval/avg``, ``eval/avg_seen`` and ``eval/avg_unseen``."""
    summary, per_task = {}, []
    for task, by_lang in results.items():
        metrics = {**summarize({lang: r["accuracy"] for lang, r in by_lang.items()}, spec.task_counts()[task],
                               {lang: r["n"] for lang, r in by_lang.items()}), **language_metrics(by_lang)}
        if spec.tasks:
            per_task.append(metrics)
            metrics = {f"eval/{task}/{key.removeprefix('eval/')}": value for key, value in metrics.items()}
        summary.update(metrics)
    for key in ("eval/avg", "eval/avg_seen", "eval/avg_unseen"):
        values = [metrics[key] for metrics in per_task if key in metrics]
        if values:
            summary[key] = sum(values) / len(values)
    return summary


def selected_losses(metrics: dict) -> dict[str, float]:
    """Per-language validation losses of the selected epoch, ``{lang: loss}``."""
    prefix = "selected/val/loss/"
    return {key.removeprefix(prefix): value for key, value in metrics.items() if key.startswith(prefix)}


def kept_epoch(metrics: dict) -> dict[str, float]:
    """The kept epoch's validation averages under their per-epoch names, for Tune's last report of a trial: a
    searcher and ASHA read one metric name in every report (Tune checks it), per epoch and at the end."""
    return {key.removeprefix("selected/"): value for key, value in metrics.items()
            if key in ("selected/val/avg_loss", "selected/val/avg_acc")}


def objective(losses: dict[str, float], weights: dict[str, float]) -> float:
    """The ratio search's objective: Σ w_i · validation loss_i of the selected epoch."""
    return sum(w * losses[lang] for lang, w in weights.items())


def report_reused(tracker: Tracker, spec: TrialSpec, context: dict, search: dict | None) -> bool:
    """Idempotent resubmission: a spec with a finished run is never trained again; its metrics are Tune's report.
    (With the tracking server down, the driver's check — it schedules only unfinished trials — stands.)"""
    previous = tracker.finished_child(context["experiment_id"], spec.spec_hash) if tracker.reachable() else None
    if previous is None:
        return False
    metrics = dict(previous.metrics)
    if search:  # the objective under this search's weights, from the losses the run recorded
        metrics["val/objective"] = objective(selected_losses(metrics), search["weights"])
    tune.report({**metrics, **kept_epoch(metrics), "reused": 1})
    return True


def torch_trainer(spec: TrialSpec, context: dict, run_id: str, search: dict | None) -> TorchTrainer:
    """The trial's Ray Train run: its workers (DDP or DeepSpeed), checkpoints kept by the selection metric, and
    every epoch's report to MLflow and to Tune."""
    resources = spec.resources
    return TorchTrainer(
        train_loop,
        train_loop_config={"job": sft_job(spec, context["model_path"], context["data_dir"], search and search["weights"]),
                           "validator": partial(validation_accuracy, budgets=budgets(spec))},
        scaling_config=ray.train.ScalingConfig(
            num_workers=resources.workers, use_gpu=resources.gpus_per_worker > 0,
            resources_per_worker={"CPU": resources.cpus_per_worker,
                                  **({"GPU": resources.gpus_per_worker} if resources.gpus_per_worker else {})},
        ),
        run_config=ray.train.RunConfig(
            name=spec.spec_hash,  # deterministic: a restarted trial resumes the same Train run
            storage_path=context["storage_path"],
            checkpoint_config=ray.train.CheckpointConfig(
                num_to_keep=1, checkpoint_score_attribute=SELECTION_METRIC, checkpoint_score_order="max"
            ),
            failure_config=ray.train.FailureConfig(max_failures=2),
            # MLflow first: a trial that Tune stops on this report (ASHA) still has the epoch recorded.
            callbacks=[MLflowEpochLogger(context["tracking_uri"], run_id, context.get("journal_dir")), TuneReportCallback()],
        ),
    )


def train(spec: TrialSpec, context: dict, tracker: Tracker, run_id: str, search: dict | None):
    """Train the trial; returns the kept checkpoint (a Ray Checkpoint, or a directory) and the kept epoch's
    validation results (``selected/...``), which a ratio search fits and a tuning sweep compares."""
    if spec.in_trial_process:
        return train_in_process(spec, context, tracker, run_id, search)
    result = torch_trainer(spec, context, run_id, search).fit()
    best = max(result.best_checkpoints, key=lambda pair: pair[1][SELECTION_METRIC])[1]
    checkpoint = result.get_best_checkpoint(SELECTION_METRIC, "max")
    return checkpoint, selection(tracker, run_id, best, search, checkpoint_location(checkpoint))


def checkpoint_location(checkpoint: ray.train.Checkpoint) -> str:
    """Where a Ray checkpoint is, as ``ray.train.Checkpoint(path=...)`` opens it again: a path on local or shared
    storage, a URI on cloud storage."""
    kind = getattr(checkpoint.filesystem, "type_name", "local")
    return checkpoint.path if kind == "local" else f"{kind}://{checkpoint.path}"


def train_in_process(spec: TrialSpec, context: dict, tracker: Tracker, run_id: str, search: dict | None):
    """A one-CPU-worker job, trained in this process (training/session.py): every epoch goes to MLflow, then to
    Tune, as the TorchTrainer's callbacks send it; checkpoints go beside where that Train run would keep them (a
    folder of their own: a study switched to ``resources.trainer: ray_train`` does not resume from them)."""
    def report(metrics: dict) -> None:
        tracker.log_metrics(run_id, metrics, step=int(metrics["epoch"]))
        tune.report(metrics)

    session = LocalSession(Path(context["storage_path"]) / f"{spec.spec_hash}-in-trial", SELECTION_METRIC, report)
    job = sft_job(spec, context["model_path"], context["data_dir"], search and search["weights"])
    run_sft(job, partial(validation_accuracy, budgets=budgets(spec)), session)
    directory, best = session.best()
    return str(directory), selection(tracker, run_id, best, search, str(directory))


def selection(tracker: Tracker, run_id: str, best: dict, search: dict | None, checkpoint: str) -> dict[str, float]:
    """The kept epoch and where its checkpoint is (tagged on the run: a ratio search that adds a language validates
    that checkpoint on it), and its validation results under ``selected/...``."""
    tracker.set_tags(run_id, {"polymix.best_epoch": best["epoch"], CHECKPOINT_TAG: checkpoint})
    selected = {f"selected/{key}": value for key, value in best.items()
                if key.startswith(("val/loss/", "val/avg_loss", "val/avg_acc"))}
    if search:
        selected["val/objective"] = objective(selected_losses(selected), search["weights"])
    return selected


def evaluate(spec: TrialSpec, context: dict, model_source) -> tuple[dict, dict, float]:
    """The test evaluation: in this process for a job that trained here (its CPUs are the trial's); otherwise
    scheduled like the TorchTrainer's workers (outside the trial's 1-CPU placement group), on one worker's
    accelerator, once training has released them."""
    args = (model_source, list(spec.task_counts()), context["data_dir"], spec.eval.language_list(), spec.eval.test_examples,
            spec.eval.batch_size, spec.eval.wrong_language_scores_zero, budgets(spec))
    if spec.in_trial_process:
        return evaluate_model_dir(*args)
    resources = spec.resources
    remote = ray.remote(evaluate_model_dir).options(
        num_cpus=resources.cpus_per_worker, num_gpus=min(resources.gpus_per_worker, 1), scheduling_strategy="DEFAULT"
    )
    return ray.get(remote.remote(*args))


def record_evaluation(tracker: Tracker, run_id: str, spec: TrialSpec, results: dict, about_model: dict,
                      seconds: float, selected: dict) -> dict:
    """The run's test metrics (with ``eval/seconds``, the evaluation's time once the model was loaded), the model's
    description and every prediction (``predictions.jsonl``)."""
    summary = {**eval_metrics(spec, results), "eval/seconds": seconds, **selected}
    tracker.log_params(run_id, about_model)
    tracker.log_metrics(run_id, summary)
    predictions = "\n".join(json.dumps({"task": task, "lang": lang, **p}, ensure_ascii=False)
                            for task, by_lang in results.items() for lang, r in by_lang.items() for p in r["predictions"])
    tracker.log_text(run_id, predictions + "\n", "predictions.jsonl")
    log_language_view(tracker, run_id, spec, results)
    return summary


def log_language_view(tracker: Tracker, run_id: str, spec: TrialSpec, results: dict) -> None:
    """What the MLflow UI shows of a run at a glance: its accuracy per language with 95% intervals (Wilson; t for
    continuous scores), as one
    figure (``accuracy_by_language.png``) and a table (``accuracy_by_language.json``). Drawn from the metrics, so
    skipped, saying so, while the tracking server does not answer (images and tables are not journaled)."""
    away = "[polymix] accuracy_by_language.png/.json not logged: the tracking server does not answer"
    if not tracker.reachable() or run_id.startswith("offline-"):
        print(away, flush=True)
        return
    import pandas as pd

    from evaluation.report import with_intervals
    from evaluation.report_figures import language_accuracy_figure, plt  # (draws off-screen: Agg)

    table = with_intervals(pd.DataFrame([
        {"task": task, "lang": lang, "trained": spec.task_counts()[task].get(lang, 0) > 0, "accuracy": result["accuracy"],
         "n": float(result["n"]), "sd": result["sd"]} for task, by_lang in results.items() for lang, result in by_lang.items()]))
    figure = language_accuracy_figure(table, spec.label)
    logged = tracker.log_table(run_id, table, "accuracy_by_language.json") and tracker.log_figure(
        run_id, figure, "accuracy_by_language.png")
    plt.close(figure)
    if not logged:  # (the server went away meanwhile)
        print(away, flush=True)


def run_trial(config: dict) -> None:
    """One SFT trial. ``config["search"]``, set by a ratio search, carries its objective's weights and the
    searcher's prediction, logged beside what the trial measures."""
    spec = TrialSpec.model_validate(config["spec"])
    context, search = config["context"], config.get("search")
    tracker = Tracker(context["tracking_uri"], context.get("journal_dir"))
    if report_reused(tracker, spec, context, search):
        return
    run_id = tracker.start_child(
        context["experiment_id"], context["parent_run_id"], spec.spec_hash, spec.label.replace("/", "-"),
        trial_params(spec), {"polymix.baseline": str(spec.baseline).lower(), **({SEARCH_KEY_TAG: search["key"]} if search else {})},
    )
    try:
        tracker.set_tags(run_id, {NODE_TAG: f"{socket.gethostname()} {ray.get_runtime_context().get_node_id()[:8]}"})
        tracker.log_text(run_id, json.dumps(spec.model_dump(mode="json"), indent=2), "trial_spec.json")
        if search and search.get("predicted"):
            tracker.log_metrics(run_id, {f"predicted/{key}": value for key, value in search["predicted"].items()})
        model_source, selected = (context["model_path"], {}) if spec.baseline else train(spec, context, tracker, run_id, search)
        summary = record_evaluation(tracker, run_id, spec, *evaluate(spec, context, model_source), selected)
        tracker.finish(run_id)
    except BaseException:
        # A trial a scheduler stops may end here (its trainer interrupted): the scheduler tagged its run first.
        tracker.end_interrupted(run_id)
        raise
    tune.report({**summary, **kept_epoch(summary), "reused": 0})


def trainable(config: dict) -> None:
    """Tune's entry point (the grid puts each trial's spec and context under ``config["trial"]``)."""
    run_trial(config["trial"])
