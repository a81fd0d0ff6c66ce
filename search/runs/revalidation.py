"""Earlier runs' kept checkpoints validated on the languages a ratio search added: Climb's reuse made real.

A language's loss law has n + 2 parameters, informed only by runs that validated that language
(search/mixtures/climb.py). Runs of an earlier search over fewer languages did not validate the new one, so by
themselves they leave it to n + 3 new runs. Each of them kept its checkpoint (tagged ``polymix.checkpoint`` on its
run), and a forward pass over the new language's validation rows measures what the other languages' data does for
it: the transfer into it, at ratio 0. The loss is recorded on the old run as ``revalidated/val/loss/<lang>`` and the
run tagged ``polymix.revalidated``; what the run measured when it ran (``selected/...``) is never overwritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import ray

from search.runs.designs import TrialSpec
from search.runs.trial import selected_losses, sft_job
from search.tracking import CHECKPOINT_TAG, REVALIDATED_TAG, Tracker
from training.models import load_model, load_tokenizer
from training.sft import SFTJob, validation_loss, validation_rows

PREFIX = "revalidated/val/loss/"


@dataclass(frozen=True)
class Unvalidated:
    """An earlier run of the same search key that did not validate some of the searched languages."""

    run_id: str
    counts: dict[str, int]
    checkpoint: str
    missing: tuple[str, ...]
    revalidated: tuple[str, ...]  # languages its checkpoint was validated on before


def revalidated_losses(metrics: dict) -> dict[str, float]:
    """Per-language validation losses measured on a run's kept checkpoint after it ran, ``{lang: loss}``."""
    return {key.removeprefix(PREFIX): value for key, value in metrics.items() if key.startswith(PREFIX)}


def checkpoint_exists(location: str) -> bool:
    """A URI (cloud storage) is taken as there: only opening it tells; a path must exist on this machine."""
    return "://" in location or Path(location).is_dir()


def runs_to_revalidate(runs: list, languages: list[str]) -> list[Unvalidated]:
    """Those of the earlier runs (search.runs.ratio_search.earlier_runs) that did not validate every searched
    language and whose kept checkpoint is still there."""
    found = []
    for run in runs:
        revalidated = revalidated_losses(run.metrics)
        measured = {**revalidated, **selected_losses(run.metrics)}
        missing = tuple(lang for lang in languages if lang not in measured)
        checkpoint = run.tags.get(CHECKPOINT_TAG, "")
        if missing and checkpoint and checkpoint_exists(checkpoint):
            found.append(Unvalidated(run.run_id, json.loads(run.params["counts"]), checkpoint, missing,
                                     tuple(revalidated)))
    return found


def expected_measured(previous: tuple[np.ndarray, np.ndarray] | None, runs: list, unvalidated: list[Unvalidated],
                      languages: list[str]):
    """``previous`` (made from ``runs``, in order) as it will be once ``unvalidated`` runs are validated (their
    missing losses 0, a placeholder): what the initial design's size is planned on before any job starts."""
    if previous is None:
        return None
    losses, row = previous[1].copy(), {run.run_id: i for i, run in enumerate(runs)}
    for run in unvalidated:
        for lang in run.missing:
            losses[row[run.run_id], languages.index(lang)] = 0.0
    return previous[0], losses


def validation_losses_at(checkpoint: str, job: SFTJob) -> dict[str, float]:
    """The job's validation loss per language (its ``validation_languages``) at a kept checkpoint or a model (a local
    folder or a hub id): the same rows and the same computation as the run's own per-epoch validation."""
    def measure(path: str) -> dict[str, float]:
        model, tokenizer = load_model(path), load_tokenizer(path)
        model.to("cuda" if ray.get_gpu_ids() else "cpu")
        return validation_loss(model, tokenizer, job, job.task, validation_rows(job)[job.task])

    if Path(checkpoint).is_dir() or "://" not in checkpoint:  # a local folder (a trial's, Ray storage's), or a hub id
        return measure(checkpoint)
    with ray.train.Checkpoint(path=checkpoint).as_directory() as path:
        return measure(path)


def remote_validation(base: TrialSpec):
    """``validation_losses_at`` as a Ray task placed like one of ``base``'s workers."""
    resources = base.resources
    return ray.remote(validation_losses_at).options(num_cpus=resources.cpus_per_worker,
                                                    num_gpus=min(resources.gpus_per_worker, 1))


def revalidate(base: TrialSpec, context: dict, tracker: Tracker, runs: list[Unvalidated]) -> None:
    """Validate each run's kept checkpoint on the languages it missed, as Ray tasks placed like a trial's workers,
    and record the losses on the run."""
    remote = remote_validation(base)
    jobs = [sft_job(base.model_copy(update={"counts": run.counts, "validation_languages": list(run.missing)}),
                    context["model_path"], context["data_dir"]) for run in runs]
    for run, losses in zip(runs, ray.get([remote.remote(run.checkpoint, job) for run, job in zip(runs, jobs)])):
        tracker.log_metrics(run.run_id, {f"{PREFIX}{lang}": loss for lang, loss in losses.items()})
        tracker.set_tags(run.run_id, {REVALIDATED_TAG: ",".join(sorted({*run.revalidated, *losses}))})
    languages = sorted({lang for run in runs for lang in run.missing})
    print(f"[polymix] validated {len(runs)} earlier runs' kept checkpoints on {', '.join(languages)} "
          f"(recorded on those runs as {PREFIX}<lang>)", flush=True)


def base_losses(base: TrialSpec, context: dict) -> dict[str, float]:
    """The base model's validation loss in every searched language before any fine-tuning (one Ray task placed like
    a trial's worker): the loss law's zero-data point, which separates the base's prior from transfer
    (search/mixtures/climb.py, separate_prior)."""
    return ray.get(remote_validation(base).remote(context["model_path"], sft_job(base, context["model_path"], context["data_dir"])))
