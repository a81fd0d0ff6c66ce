"""Hooks that write to the tracker from inside Ray: a scheduler's stop decisions and Train's per-epoch reports.
"""

from __future__ import annotations

from collections.abc import Callable

from ray.train.v2.api.callback import UserCallback

from search.tracking.tracker import Tracker


class StopRecorder:
    """A scheduler's ``on_stop``: tags the run of each trial it stops with the reason *before* Tune stops the trial,
    so that the trial's own handler, should stopping interrupt its training with an exception, ends the run KILLED
    (``Tracker.end_interrupted``), not FAILED; ``stopped`` lists the spec hashes for the driver's ``mark_stopped``, which
    ends the runs left RUNNING by an actor that ended without an exception. Picklable: it holds the URI, not a client."""

    def __init__(self, tracking_uri: str, experiment_id: str, spec_hash_of: Callable[[dict], str], reason: str):
        self.tracking_uri, self.experiment_id, self.spec_hash_of, self.reason = tracking_uri, experiment_id, spec_hash_of, reason
        self.stopped: list[str] = []

    def __call__(self, config: dict) -> None:
        spec_hash = self.spec_hash_of(config)
        self.stopped.append(spec_hash)
        Tracker(self.tracking_uri).flag_stopped(self.experiment_id, spec_hash, self.reason)



class MLflowEpochLogger(UserCallback):
    """Ray Train callback: every epoch's report (rank 0's metrics) goes to the trial's MLflow run (or, with the
    server down, to the run's journal)."""

    def __init__(self, tracking_uri: str, run_id: str, journal_dir: str | None = None):
        self.tracking_uri, self.run_id, self.journal_dir = tracking_uri, run_id, journal_dir

    def after_report(self, run_context, metrics, checkpoint) -> None:
        report = metrics[0]
        Tracker(self.tracking_uri, self.journal_dir).log_metrics(self.run_id, report, step=int(report.get("epoch", 0)))
