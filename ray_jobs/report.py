"""`polymix report EXPERIMENT`: the paper-style report of a study, from MLflow, as files and MLflow artifacts."""

from __future__ import annotations

import json
from pathlib import Path

from evaluation.report import Report, write_report
from search.tracking import EVAL_LANGUAGES_PARAM, Tracker, results_table
from training.errors import PolymixError


def planned_trials(tracker: Tracker, parent_run_id: str) -> list[dict] | None:
    """The trials a sweep planned (its ``plan.json``), or None for a parent without one (a ratio search)."""
    if "plan.json" not in tracker.artifact_names(parent_run_id):
        return None
    return json.loads(tracker.read_text(parent_run_id, "plan.json"))


def make_report(tracking_uri: str, experiment: str, folder: Path, all_runs: bool = False) -> tuple[Report, str, list[str]]:
    """Write the report of ``experiment`` into ``folder`` and log it under ``report/`` on its latest parent run.

    By default the report covers the runs the latest sweep planned (reused runs of earlier sweeps included) and
    names those without a finished result; ``all_runs`` takes every finished trial run of the experiment.
    Returns the report, the parent run id and the notes on what is missing.
    """
    tracker = Tracker(tracking_uri)
    experiment_id = tracker.require_experiment(experiment)
    parent = tracker.latest_parent(experiment_id)
    if parent is None:
        raise PolymixError(f"experiment {experiment!r} has no sweep or search run yet; run the study first (polymix run)")
    by_hash = tracker.runs_by_spec_hash(experiment_id)
    finished = {h: next(r for r in runs if r.status == "FINISHED") for h, runs in by_hash.items()
                if any(r.status == "FINISHED" for r in runs)}
    plan = None if all_runs else planned_trials(tracker, parent.run_id)
    notes = []
    if plan is None:
        runs = list(finished.values())
        notes.append(f"every finished trial run of experiment {experiment!r} ({len(runs)})")
    else:
        runs = [finished[t["spec_hash"]] for t in plan if t["spec_hash"] in finished]
        missing = [t for t in plan if t["spec_hash"] not in finished]
        notes.append(f"the {len(plan)} runs planned by sweep {parent.name} ({parent.run_id}): "
                     f"{len(runs)} finished, {len(missing)} missing")
        for trial in missing:
            attempts = by_hash.get(trial["spec_hash"], [])
            state = attempts[0].status.lower() if attempts else "not started"
            notes.append(f"missing: {trial['trial']} ({state})")
    if not runs:
        raise PolymixError(f"experiment {experiment!r}: no finished trial run to report on yet"
                           + (f" ({len(plan)} planned)" if plan else ""))
    # The study's evaluation set, as its parent run recorded it: a run evaluated on more languages (an earlier
    # version of the study) counts on these only.
    languages = parent.params.get(EVAL_LANGUAGES_PARAM)
    report = write_report(results_table(runs), folder, f"Study report: {experiment}", notes,
                          languages=languages.split(",") if languages else None)
    tracker.log_folder(parent.run_id, folder, "report")
    return report, parent.run_id, notes
