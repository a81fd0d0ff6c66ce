"""`polymix climb`: search a study's language ratios adaptively, one search per model × task.

Every run is an ordinary SFT trial (search/runs/trial.py), tracked as a child of the search's MLflow parent
run, with the searcher's prediction logged next to what the run measured. The strategies (docs/studies.md §1c, §2):
- ``climb``: search.mixtures.searchers.ClimbSearcher (our formulation of Climb, search/mixtures/climb.py);
- ``regmix``: search.mixtures.searchers.RegMixSearcher (random mixtures → a quadratic regression per language → the
  optimum of their weighted sum);
- ``optuna``: Ray's ``OptunaSearch`` (TPE) over one weight per language, normalised by the trial; with
  ``search.asha`` an ASHA scheduler stops weak trials after their first epochs;
- ``grid``: search.mixtures.searchers.GridSearcher, every mixture of a lattice (the brute-force reference).
The parent run keeps, per model × task, ``recommendation.json`` (mixture, predicted and measured scores,
every run, the fitted law) and, for Climb, a heatmap of the fitted interaction matrix T.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import ray
from ray import tune

from search.mixtures.climb import separate_prior
from search.mixtures.climb_loop import new_initial_runs
from search.mixtures.searchers import METRIC, SEARCHERS, ClimbSearcher, MixtureSearcher
from search.runs.cluster import concurrency, run_config, trial_resources
from search.runs.designs import TrialSpec, model_settings
from search.runs.driver import Drive, content_hash
from search.runs.early_stopping import STOPPED_BY_ASHA, early_stopping
from search.runs.progress import Progress
from search.runs.revalidation import (
    Unvalidated,
    base_losses,
    expected_measured,
    revalidate,
    revalidated_losses,
    runs_to_revalidate,
)
from search.runs.trial import run_trial, selected_losses
from search.runs.tuning import describe, max_epochs, sampled, tune_space
from search.study import Study
from search.tracking import SEARCH_KEY_TAG, StopRecorder, Tracker
from training.errors import ConfigError
from training.mixture import ratio_counts


def mixture_name(counts: dict[str, int]) -> str:
    """A name that is the mixture: the same counts always make the same run (and spec hash)."""
    return "-".join(f"{lang}{count}" for lang, count in counts.items())


def mixture_spec_hash(config: dict) -> str:
    return mixture_spec(config).spec_hash


def mixture_spec(config: dict) -> TrialSpec:
    """The SFT trial a searched mixture stands for: weights → exact counts on the search's base trial."""
    base = TrialSpec.model_validate(config["base"])
    if config.get("hparams"):  # a joint search's sampled training settings
        base = base.with_hparams(sampled(config["hparams"]))
    raw = config["mixture"]
    weight = sum(raw.values())
    counts = ratio_counts({lang: value / weight for lang, value in raw.items()}, config["total"])
    return base.model_copy(update={"counts": counts, "mixture": mixture_name(counts)})


def mixture_trainable(config: dict) -> None:
    """Tune's entry point for a searched mixture: the ordinary SFT trial."""
    run_trial({"spec": mixture_spec(config).model_dump(mode="json"), "context": config["context"], "search": config["search"]})


def search_key(base: TrialSpec, total: int) -> str:
    """What makes runs of two searches comparable: everything but the mixture and the languages validated."""
    content = base.model_dump(mode="json", exclude={"study": True, "resources": True, "mixture": True, "counts": True,
                                                   "validation_languages": True, "model": {"profile", "params"}})
    return hashlib.sha256(json.dumps({**content, "total": total}, sort_keys=True).encode()).hexdigest()[:16]


def earlier_runs(tracker: Tracker, experiment_id: str, key: str, languages: list[str]) -> list:
    """Finished runs of earlier searches over other languages (same model, task, budget and settings) that trained
    only searched languages. Runs of a search over the same languages are not taken: that search proposes the same
    mixtures again and reuses each finished run by its spec hash."""
    found = []
    for run in tracker.runs_tagged(experiment_id, SEARCH_KEY_TAG, key, finished=True):
        counts = json.loads(run.params.get("counts", "{}"))
        if counts and not set(counts) - set(languages) and set(selected_losses(run.metrics)) != set(languages):
            found.append(run)
    return found


def previous_runs(runs: list, languages: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Earlier runs as they re-enter the fit (mixture reuse): a language they did not train has ratio 0, a language
    they did not validate a NaN loss, unless their kept checkpoint was validated on it since
    (search/runs/revalidation.py)."""
    ratios, losses = [], []
    for run in runs:
        counts = json.loads(run.params["counts"])
        validated = {**revalidated_losses(run.metrics), **selected_losses(run.metrics)}
        total = sum(counts.values())
        ratios.append([counts.get(lang, 0) / total for lang in languages])
        losses.append([validated.get(lang, np.nan) for lang in languages])
    return (np.array(ratios), np.array(losses)) if ratios else None


@dataclass
class SearchOutcome:
    model: str
    task: str
    summary: dict  # what recommendation.json holds


@dataclass
class PlannedSearch:
    """One model × task search, settled before Ray starts: its base trial, budget and the runs it reuses."""

    model: object  # search.study.ModelConfig
    task: str
    base: TrialSpec
    total: int
    key: str
    previous: tuple[np.ndarray, np.ndarray] | None
    unvalidated: list[Unvalidated]  # earlier runs whose kept checkpoints are validated on the added languages first


def plan_searches(study: Study, tracker: Tracker, experiment_id: str) -> list[PlannedSearch]:
    """Every search of the study, with its budget checked against the runs it reuses (a ConfigError, before
    any trial starts, when the initial design would spend the whole budget)."""
    s = study.search
    planned = []
    for model in study.models:
        train, resources = model_settings(study, model)
        for task in study.tasks:
            total = s.total[task] if isinstance(s.total, dict) else s.total
            base = TrialSpec(study=study.name, model=model, task=task, mixture="search", counts={}, train=train,
                             eval=study.eval, data=study.data, seed=study.seed, resources=resources,
                             validation_languages=s.languages, content_pool=study.content_pool())
            key = search_key(base, total)
            previous, unvalidated = None, []
            if s.strategy == "climb":
                earlier = earlier_runs(tracker, experiment_id, key, s.languages)
                previous, unvalidated = previous_runs(earlier, s.languages), runs_to_revalidate(earlier, s.languages)
                expected = expected_measured(previous, earlier, unvalidated, s.languages)
                initial = s.initial_runs or new_initial_runs(len(s.languages), expected)
                if s.runs <= initial:
                    reused = f" (after reusing {len(previous[0])} runs of earlier searches)" if previous else ""
                    raise ConfigError(f"search.runs: {s.runs} leaves no run after the {initial} initial mixtures{reused} "
                                      f"of {model.name}/{task}; raise search.runs above {initial}")
            planned.append(PlannedSearch(model, task, base, total, key, previous, unvalidated))
    return planned


def search_one(study: Study, plan: PlannedSearch, context: dict, tracker: Tracker, parent_run_id: str,
               workdir: Path) -> SearchOutcome:
    s = study.search
    if plan.unvalidated:  # Ray is up: validate the earlier runs' checkpoints on the added languages, then refit with them
        revalidate(plan.base, context, tracker, plan.unvalidated)
        plan.previous = previous_runs(earlier_runs(tracker, context["experiment_id"], plan.key, s.languages), s.languages)
    model, task, base, total, key, previous = plan.model, plan.task, plan.base, plan.total, plan.key, plan.previous
    zero_data = base_losses(base, context) if s.strategy == "climb" else None  # the law's point before fine-tuning
    searcher = SEARCHERS[s.strategy](s, total, previous)
    weights = s.weight_of()
    param_space = {"base": base.model_dump(mode="json"), "total": total, "search": {"weights": weights, "key": key},
                   "context": context}
    if s.strategy == "optuna":
        param_space["mixture"] = {lang: tune.uniform(1e-3, 1.0) for lang in s.languages}
    if s.hparams:  # joint search: Optuna samples the tuning section's space beside the language weights
        param_space["hparams"] = tune_space(study.tuning, grid=False)
    epochs = max_epochs(study.tuning, base) if s.hparams else base.train.epochs
    recorder = StopRecorder(context["tracking_uri"], context["experiment_id"], mixture_spec_hash, STOPPED_BY_ASHA)
    scheduler = early_stopping(METRIC, "min", epochs, recorder) if s.asha else None
    request, fits, _ = trial_resources([base], ray.cluster_resources())
    budget = s.budget()
    concurrent = concurrency(study, fits, budget)
    label = f"{model.name}/{task}"
    print(f"[polymix] {s.strategy} search {label}: {', '.join(s.languages)}, {total} examples per run, at most {budget} runs, "
          f"{concurrent} at a time" + (f"; {len(previous[0])} runs of earlier searches reused" if previous else ""), flush=True)
    if not base.content_pool:  # the law's additivity takes every example to bring new content (docs/studies.md §1d)
        print(f"[polymix] {label}: parallel content (the languages of a run share its problems); the fitted law then "
              "includes that overlap; set mixture.content: disjoint where each language has enough data", flush=True)
    tuner = tune.Tuner(
        tune.with_resources(mixture_trainable, request),
        param_space=param_space,
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=budget,
                                    max_concurrent_trials=concurrent, reuse_actors=scheduler is None),
        run_config=run_config(f"{study.name}-{s.strategy}-{'-'.join(s.languages)}-{key}", workdir,
                              [Progress(budget, metric=METRIC, label=_mixture_label)]),
    )
    results = tuner.fit()
    # The runs of trials ASHA stopped end KILLED: the trial's handler did so if stopping interrupted it with an
    # exception (the recorder tagged its run first); here those its actor left RUNNING.
    stopped = len(set(recorder.stopped))
    if recorder.stopped:
        tracker.mark_stopped(context["experiment_id"], sorted(set(recorder.stopped)), STOPPED_BY_ASHA)
    summary = {**summarise(study, plan, searcher, results, zero_data), "runs_stopped_early": stopped}
    log_outcome(tracker, parent_run_id, summary, label)
    return SearchOutcome(model.name, task, summary)


def summarise(study: Study, plan: PlannedSearch, searcher, results, zero_data: dict[str, float] | None = None) -> dict:
    """What recommendation.json holds: every finished run, the best one, the recommendation, the fitted law (with
    T split into the base's prior and transfer by the base's own losses, ``zero_data``)."""
    s, total, previous = study.search, plan.total, plan.previous
    runs = []
    for result in results:
        if result.error is not None or not result.metrics or not selected_losses(result.metrics):
            continue  # failed, or stopped early: no selected checkpoint, no test evaluation
        counts = ratio_counts(_normalised(result.config["mixture"]), total)
        runs.append({"mixture": mixture_name(counts), "counts": counts, METRIC: result.metrics[METRIC],
                     "losses": selected_losses(result.metrics), "predicted": result.config["search"].get("predicted"),
                     "reused": bool(result.metrics.get("reused")),
                     **({"hparams": sampled(result.config["hparams"])} if result.config.get("hparams") else {})})
    if not runs:
        raise ConfigError(f"{s.strategy} search {plan.model.name}/{plan.task}: no run finished; see the trial errors above")
    best = min(runs, key=lambda run: run[METRIC])
    summary = {"model": plan.model.name, "task": plan.task, "strategy": s.strategy, "languages": s.languages, "weights": s.weight_of(),
               "total": total, "runs_finished": len(runs), "runs_reused_from_earlier_searches": len(previous[0]) if previous else 0,
               "best_measured": best, "runs": runs}
    if isinstance(searcher, MixtureSearcher) and searcher.recommended is not None:
        ratios, predicted = searcher.recommended
        counts = ratio_counts(dict(zip(s.languages, map(float, ratios))), total)
        measured = next((run for run in runs if run["counts"] == counts), None)
        summary["recommended"] = {"mixture": mixture_name(counts), "counts": counts, "predicted": predicted,
                                  "measured": measured and {METRIC: measured[METRIC], "losses": measured["losses"]}}
        summary["stopped"] = searcher.stop_reason
    else:  # Optuna: the best run is the recommendation, measured by construction
        summary["recommended"] = {"mixture": best["mixture"], "counts": best["counts"], "predicted": None,
                                  "measured": {METRIC: best[METRIC], "losses": best["losses"]},
                                  **({"hparams": best["hparams"]} if "hparams" in best else {})}
    if isinstance(searcher, ClimbSearcher):
        climb = searcher.climb
        optimum = climb.recommend()  # what produced the recommended ratios, and its optimality certificate
        # The law's optimum is recommended only where the interval of its predicted gain over the best run excludes
        # 0; "run" otherwise. Noise figures are none without residual degrees of freedom (initial_runs too few).
        interval, known = climb.gain_interval(), np.isfinite(climb.noise())
        summary["recommended"]["optimiser"] = {"method": optimum.method, "iterations": optimum.iterations,
                                               "optimality_gap": optimum.gap, "certified": optimum.certified,
                                               "predicted_gain": climb.predicted_gain(),
                                               "gain_interval": interval and interval.as_dict(),
                                               "objective_noise": climb.objective_noise() if known else None,
                                               "residual_noise_per_loss": climb.noise() if known else None,
                                               "rule": climb.recommendation_rule()}
        law = searcher.climb.fit()
        summary["fitted_law"] = {"languages": list(law.languages), "transfer": law.transfer.round(4).tolist(),
                                 "floor": law.floor.round(4).tolist(), "scale": law.scale.round(4).tolist(),
                                 "exponent": law.exponent.round(4).tolist(), "budget": law.budget, "offset": law.offset}
        if zero_data is not None:
            summary["fitted_law"].update(prior_fields(law, zero_data))
    return summary


def prior_fields(law, zero_data: dict[str, float]) -> dict:
    """The base's losses, and T with the base's prior taken out (None where the law has no zero-data point)."""
    base = np.array([zero_data[lang] for lang in law.languages])
    split = separate_prior(law, base)
    known = lambda values: [None if np.isnan(v) else round(float(v), 4) for v in values]  # noqa: E731
    return {"base_losses": known(base), "transfer_without_prior": [known(row) for row in split.transfer],
            "prior_examples": known(split.prior)}


def log_outcome(tracker: Tracker, parent_run_id: str, summary: dict, label: str) -> None:
    """The search's parent run: recommendation.json, the scores as metrics, the mixture as a tag, T's heatmap."""
    folder = f"search/{summary['model']}-{summary['task']}"
    best = summary["best_measured"]
    tracker.log_text(parent_run_id, json.dumps(summary, indent=2), f"{folder}/recommendation.json")
    rec = summary["recommended"]
    metrics = {f"{folder}/best_measured": best[METRIC]}
    if rec["measured"]:
        metrics[f"{folder}/recommended_measured"] = rec["measured"][METRIC]
    if rec["predicted"]:
        metrics[f"{folder}/recommended_predicted"] = rec["predicted"][METRIC]
    law = summary.get("fitted_law", {})
    metrics.update({f"{folder}/base/val/loss/{lang}": loss for lang, loss in zip(law.get("languages", []),
                                                                                  law.get("base_losses", []))})
    tracker.log_metrics(parent_run_id, metrics)
    tracker.set_tags(parent_run_id, {f"polymix.recommended.{summary['model']}.{summary['task']}": rec["mixture"]})
    if "fitted_law" in summary:
        log_transfer_heatmap(tracker, parent_run_id, summary["fitted_law"], f"{folder}/transfer_matrix.png", label)


def _normalised(raw: dict[str, float]) -> dict[str, float]:
    weight = sum(raw.values())
    return {lang: value / weight for lang, value in raw.items()}


def _mixture_label(trial) -> str:
    counts = ratio_counts(_normalised(trial.config["mixture"]), trial.config["total"])
    return mixture_name(counts)


def log_transfer_heatmap(tracker: Tracker, run_id: str, law: dict, artifact_file: str, title: str) -> None:
    if not tracker.reachable():  # (an image is not journaled; recommendation.json, journaled, holds the law it draws)
        print(f"[polymix] {artifact_file} not logged: the tracking server does not answer", flush=True)
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    languages = law["languages"]
    # T is fitted with d0 = 1: a base that already knows a language shows it as off-diagonal mass too, (T + c)/(1 + c);
    # beside it, T with the base's prior taken out where the base's own losses were measured
    panels = [("fitted T (d0 = 1: transfer and the base's prior knowledge)", law["transfer"])]
    if "transfer_without_prior" in law:
        panels.append(("T with the base's prior taken out (its own losses as zero data)", law["transfer_without_prior"]))
    side = 0.6 * len(languages)
    figure, axes_list = plt.subplots(1, len(panels), figsize=(len(panels) * (1.4 + side), 1.0 + side), squeeze=False)
    for axes, (name, values) in zip(axes_list[0], panels):
        transfer = np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)
        image = axes.imshow(transfer, vmin=0, vmax=1, cmap="viridis")
        axes.set_xticks(range(len(languages)), languages)
        axes.set_yticks(range(len(languages)), languages)
        axes.set_xlabel("trained on language j")
        axes.set_ylabel("counts for language i")
        for (i, j), value in np.ndenumerate(transfer):
            axes.text(j, i, "—" if np.isnan(value) else f"{value:.2f}", ha="center", va="center",
                      color="white" if not value >= 0.6 else "black")
        axes.set_title(f"{name}\n{title}", fontsize=7)
        figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    tracker.log_figure(run_id, figure, artifact_file)
    plt.close(figure)


def format_outcome(outcome: SearchOutcome) -> str:
    s = outcome.summary
    rec = s["recommended"]
    lines = [f"{s['strategy']} search {outcome.model}/{outcome.task}: {s['runs_finished']} runs finished"
             + (f" + {s['runs_reused_from_earlier_searches']} reused from earlier searches" if s["runs_reused_from_earlier_searches"] else "")
             + (f", {s['runs_stopped_early']} stopped early by ASHA" if s.get("runs_stopped_early") else "")
             + (f"; stopped on {s['stopped']}" if s.get("stopped") else "")]
    lines.append(f"  recommended mixture: {rec['mixture']}  ("
                 + ", ".join(f"{lang} {count / s['total']:.3f}" for lang, count in rec["counts"].items()) + ")")
    if "hparams" in rec:
        lines.append(f"  with training settings: {describe(rec['hparams'])}")
    if "optimiser" in rec:
        lines.append(f"  chosen as {rec['optimiser']['rule']}")
    predicted = f"{rec['predicted'][METRIC]:.4f}" if rec["predicted"] else "—"
    measured = f"{rec['measured'][METRIC]:.4f}" if rec["measured"] else "— (not run)"
    lines.append(f"  objective Σ w·val loss: predicted {predicted}, measured {measured}; best run measured "
                 f"{s['best_measured'][METRIC]:.4f} ({s['best_measured']['mixture']})")
    if "fitted_law" in s:
        law = s["fitted_law"]
        width = max(len(lang) for lang in law["languages"]) + 1
        lines.append("  fitted interaction matrix T (row i: how much each language's data counts for language i, at d0 = 1;")
        lines.append("  what the base already knew reads as transfer too: a true T with prior c·(D + 1) examples shows "
                     "(T + c)/(1 + c)):")
        lines.extend(matrix_lines(law["languages"], law["transfer"], width))
        if "transfer_without_prior" in law:
            lines.append("  T with the base's prior taken out (the base's own losses as the law's zero-data point; "
                         "below 0: interference; — no zero-data point):")
            lines.extend(matrix_lines(law["languages"], law["transfer_without_prior"], width))
            lines.append("  the base's prior, in examples of the language's own data: " + ", ".join(
                f"{lang} {'—' if p is None else f'{p:.0f}'}" for lang, p in zip(law["languages"], law["prior_examples"])))
        lines.append("  β: " + ", ".join(f"{lang} {b:.2f}" for lang, b in zip(law["languages"], law["exponent"])))
    return "\n".join(lines)


def matrix_lines(languages: list[str], matrix: list[list], width: int) -> list[str]:
    cell = lambda value: f"{'—':>7}" if value is None else f"{value:>7.2f}"  # noqa: E731
    return (["  " + " " * width + "".join(f"{lang:>7}" for lang in languages)]
            + [f"  {lang:<{width}}" + "".join(map(cell, row)) for lang, row in zip(languages, matrix)])


def run_ratio_search(study: Study, workdir: Path = Path(".polymix"), address: str | None = None) -> dict:
    """Run the study's ratio search for every model × task; return the tracking coordinates and outcomes."""
    if study.search is None:
        raise ConfigError("search: the study has no `search` section; add one (see configs/climb.yaml) or use `polymix run`")
    # The searcher learns each run's losses from Tune's results, not from MLflow: with the tracking server away, the
    # search goes on and what its runs log is kept in the journal (written back by the search's end or `polymix sync`).
    drive = Drive.prepare(study, workdir, address, journal=True)
    planned = plan_searches(study, drive.tracker, drive.experiment_id)
    reused = drive.open_parent(content_hash(study.model_dump(mode="json")), "search")
    print(f"[polymix] study {study.name}: ratio search ({study.search.strategy}); MLflow experiment {drive.experiment!r}, "
          f"parent run {drive.parent_run_id}{' (reused)' if reused else ''}", flush=True)
    outcomes = drive.run_each(planned, lambda plan, context: search_one(study, plan, context, drive.tracker,
                                                                        drive.parent_run_id, drive.workdir),
                              format_outcome)
    return drive.coordinates(outcomes=outcomes)
