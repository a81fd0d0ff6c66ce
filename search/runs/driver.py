"""What every driver of a study (`polymix run`, `climb`, `tune`) does around its own trials, written once.

Inputs are checked before anything starts, then one MLflow parent run holds the drive (reused when the same
drive ran before), Ray is joined or started, and a drive that raises ends its parent run FAILED.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search.runs.cluster import init_ray
from search.runs.inputs import log_conversion, prepare_inputs
from search.study import Study
from search.tracking import Tracker


def shared_paths(data_dir: Path, model_paths: dict[str, str]) -> tuple[Path, ...]:
    """What every node must see besides the work dir: the data and the models given as local paths (not hub ids)."""
    return (data_dir, *(Path(path) for path in model_paths.values() if Path(path).exists()))


@dataclass
class Drive:
    """One drive of a study: its checked inputs, its tracker and experiment, and once opened its parent run."""

    study: Study
    workdir: Path
    address: str | None
    tracking_uri: str
    data_dir: Path
    model_paths: dict[str, str]
    tracker: Tracker
    experiment: str
    experiment_id: str
    journal_dir: Path | None
    parent_run_id: str = ""

    @classmethod
    def prepare(cls, study: Study, workdir: Path, address: str | None, journal: bool = False) -> Drive:
        """Check the inputs and open the experiment. ``journal``: keep what the tracking server cannot take during an
        outage for `polymix sync` (a sweep's trials); a search reads its runs back to fit, so it has none."""
        workdir, tracking_uri, data_dir, model_paths = prepare_inputs(study, workdir)
        if address or os.environ.get("RAY_ADDRESS"):  # a cluster's nodes are checked before anything is recorded
            init_ray(study, address, workdir, shared_paths(data_dir, model_paths))
        experiment = study.tracking.experiment or study.name
        journal_dir = workdir / "ray_results" / "tracking_journal" if journal else None
        tracker = Tracker(tracking_uri, journal_dir)
        experiment_id = tracker.experiment_id(experiment, workdir / "mlartifacts" / experiment)
        # (per language: each run's accuracy_by_language figure and table; a row of eleven columns does not fit)
        tracker.set_runs_view(experiment_id, {"params": ["model", "task", "mixture"],
                                              "metrics": ["eval/avg_seen", "eval/avg_unseen", "eval/avg", "selected/val/avg_loss"]})
        return cls(study, workdir, address, tracking_uri, data_dir, model_paths, tracker, experiment, experiment_id,
                   journal_dir)

    def open_parent(self, drive_hash: str, kind: str, params: dict[str, Any] | None = None) -> bool:
        """The drive's parent run (reused when the same drive ran before: returns True), with the data conversion's
        counts on it."""
        self.parent_run_id, reused = self.tracker.parent_run(self.experiment_id, drive_hash, self.study.name,
                                                             params or {}, kind=kind, study=self.study)
        log_conversion(self.tracker, self.parent_run_id, self.data_dir)
        return reused

    def trial_context(self, model_name: str | None = None) -> dict:
        """What every trial of the drive needs besides its spec: where to track, read data and keep results."""
        context = dict(tracking_uri=self.tracking_uri, experiment_id=self.experiment_id,
                       parent_run_id=self.parent_run_id, data_dir=str(self.data_dir),
                       storage_path=str(self.workdir / "ray_results"))
        if self.journal_dir is not None:
            context["journal_dir"] = str(self.journal_dir)
        if model_name is not None:
            context["model_path"] = self.model_paths[model_name]
        return context

    def start_ray(self) -> None:
        init_ray(self.study, self.address, self.workdir, shared_paths(self.data_dir, self.model_paths))

    @contextmanager
    def failing_parent(self) -> Iterator[None]:
        """A drive that raises (or is interrupted) ends its parent run FAILED, then raises on."""
        try:
            yield
        except BaseException:
            self.tracker.finish(self.parent_run_id, "FAILED")
            raise

    def run_each(self, units: list, run_one: Callable[[Any, dict], Any], describe: Callable[[Any], str]) -> list:
        """A drive of one Tune run per unit (a model × task: a tuning, a ratio search): ``run_one(unit, its trial
        context)`` for each in turn, each outcome printed; the parent run ends FINISHED after the last, FAILED if
        one raises."""
        self.start_ray()
        outcomes = []
        with self.failing_parent():
            for unit in units:
                outcome = run_one(unit, self.trial_context(unit.model.name))
                print("\n" + describe(outcome) + "\n", flush=True)
                outcomes.append(outcome)
        self.sync_journal()
        self.tracker.finish(self.parent_run_id)  # (journaled too while the server is away)
        return outcomes

    def sync_journal(self) -> list[str]:
        """What trials logged while the tracking server was away goes to MLflow now, if it is back; returns the runs
        still waiting for it (``polymix sync`` writes them later)."""
        if self.journal_dir is None:
            return []
        synced, waiting = self.tracker.sync()
        if synced or waiting:
            print(f"[polymix] tracking journal: {synced} run(s) written to MLflow after an outage"
                  + (f"; {len(waiting)} still kept in {self.journal_dir} (the server does not answer): run `polymix sync` "
                     "once it is back" if waiting else ""), flush=True)
        return waiting

    def coordinates(self, **outcome) -> dict:
        """Where the drive's results are, and what it returns besides."""
        return {"tracking_uri": self.tracking_uri, "experiment": self.experiment, "experiment_id": self.experiment_id,
                "parent_run_id": self.parent_run_id, **outcome}


def content_hash(document) -> str:
    """A short, stable hash of a JSON document: what makes a drive the same drive as an earlier one."""
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]
