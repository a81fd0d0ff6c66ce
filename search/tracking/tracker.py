"""MLflow tracking: experiment = study, parent run = sweep, child run = trial (keyed by the spec hash).

Runs are created with MLflow's client (not MLflowLoggerCallback, which makes flat runs and duplicates
them after restarts): a resubmitted sweep finds its parent and its finished children by tag and reuses them.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from search.tracking.journal import Journal
from search.tracking.server import redact_uri, tracking_reachable
from training.errors import PolymixError

SPEC_HASH_TAG = "polymix.spec_hash"
STUDY_HASH_TAG = "polymix.study_hash"
KIND_TAG = "polymix.kind"
SEARCH_KEY_TAG = "polymix.search_key"  # runs of ratio searches that can share a fit (search/runs/ratio_search.py)
STOPPED_TAG = "polymix.stopped"  # why a run ended before its last epoch (e.g. ASHA)
RUNS_VIEW_KEY = "polymix-trials"  # the MLflow UI view of an experiment's trial runs (Tracker.set_runs_view)
NODE_TAG = "polymix.node"  # the Ray node a trial last ran on (host and node id): where to look for its logs
CHECKPOINT_TAG = "polymix.checkpoint"  # where a trained run's kept checkpoint is (a path, or a URI on cloud storage)
REVALIDATED_TAG = "polymix.revalidated"  # languages a run's kept checkpoint was validated on after it ran


@dataclass(frozen=True)
class RunRecord:
    """A tracked run as polymix reads it back, whatever the tracking backend: every search of :class:`Tracker`
    returns these, so callers never read a backend's own run objects."""

    run_id: str
    name: str
    status: str  # RUNNING, FINISHED, FAILED or KILLED
    start_time: int  # milliseconds since the epoch
    params: dict[str, str]
    metrics: dict[str, float]  # the latest value of each
    tags: dict[str, str]

    @classmethod
    def from_mlflow(cls, run) -> RunRecord:
        return cls(run.info.run_id, run.info.run_name, run.info.status, run.info.start_time, dict(run.data.params),
                   dict(run.data.metrics), dict(run.data.tags))


def tuned_tag(model: str, task: str) -> str:
    """The tag of a tuning parent run holding the best values found for ``model`` on ``task`` (JSON)."""
    return f"polymix.tuned.{model}.{task}"




# Runs per MLflow search request. One request returns at most one page, so every search that must see all of an
# experiment's runs (a 220-run study swept again and again, a ratio search's history) follows the page tokens:
# a fixed max_results silently dropped the runs past it.
SEARCH_PAGE_SIZE = 1000


MAX_PARAM_LENGTH = 6000  # characters of an MLflow param value (mlflow.utils.validation.MAX_PARAM_VAL_LENGTH)
EVAL_LANGUAGES_PARAM = "eval_languages"  # a parent run's evaluation languages, in the study's order


def study_document(study) -> dict:
    """The study as a JSON document, with any password in its tracking URI masked."""
    document = study.model_dump(mode="json")
    if document["tracking"]["uri"]:
        document["tracking"]["uri"] = redact_uri(document["tracking"]["uri"])
    return document


def study_params(study) -> dict[str, str]:
    """The study as its parent run's params: one per section (``study.eval``, ``study.mixtures``, ...) and the
    evaluation languages on their own. A section longer than an MLflow param holds (the 22 mixtures of the 220-run
    study are) names the ``study.json`` artifact, which holds the whole study, instead."""
    params = {}
    for section, value in study_document(study).items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        params[f"study.{section}"] = text if len(text) <= MAX_PARAM_LENGTH else f"{len(text)} characters: see study.json"
    params[EVAL_LANGUAGES_PARAM] = ",".join(study.eval.language_list())
    return params



class Tracker:
    """MLflow's client with polymix's run layout. With a ``journal_dir``, writes the tracking server cannot take
    (it is down) are kept in the run's local journal (search/tracking/journal.py) and replayed once it answers again."""

    def __init__(self, uri: str, journal_dir: str | Path | None = None):
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        self.journal = Journal(journal_dir) if journal_dir else None

    def reachable(self) -> bool:
        return tracking_reachable(self.uri)

    def _attempt(self, call) -> tuple[bool, Any]:
        """``(True, call())``, or ``(False, None)`` when the tracking server is away; an error MLflow answers
        with (it is up and refuses the write) is raised, never journaled."""
        if not self.reachable():
            return False, None
        try:
            return True, call()
        except Exception:
            if self.reachable():
                raise
            return False, None

    def _write(self, run_id: str, op: str, *args) -> None:
        if self.journal is None:
            return getattr(self, f"_{op}")(run_id, *args)

        def send(target: str) -> bool:
            return self._attempt(lambda: getattr(self, f"_{op}")(target, *args))[0]

        if not self.journal.has(run_id) and send(run_id):  # the usual case: no outage, no journal, no lock
            return
        with self.journal.lock(run_id):
            # Earlier writes still in the journal go first, so MLflow sees a run's writes in their order.
            target = self._replay(run_id) if self.journal.has(run_id) else run_id
            if target is None or not send(target):
                self.journal.append(run_id, op, list(args))

    def _replay(self, run_id: str) -> str | None:
        """Send the run's journal to MLflow, oldest first (call under its lock). Returns the MLflow run id its
        writes go to once nothing is left, or None while the server is still away."""
        entries, target = self.journal.read(run_id), run_id
        if entries and entries[0][0] == "alias":  # a run started offline, created in MLflow by an earlier replay
            target, entries = entries[0][1][0], entries[1:]
        while entries:
            op, args = entries[0]
            if op == "create_child":
                done, created = self._attempt(partial(self._create_child, *args))
                target = created if done else target
            else:
                done, _ = self._attempt(partial(getattr(self, f"_{op}"), target, *args))
            if not done:
                return None
            entries = entries[1:]
            # The alias stays while the trial may still write under the id it was given offline.
            self.journal.rewrite(run_id, ([("alias", [target])] if target != run_id else []) + entries)
        return target

    def sync(self) -> tuple[int, list[str]]:
        """After a sweep: replay every run's journal; returns how many runs were completed in MLflow and the
        journal ids still waiting for the server."""
        synced, waiting = 0, []
        for run_id in self.journal.run_ids() if self.journal else []:
            with self.journal.lock(run_id):
                if self._replay(run_id) is None:
                    waiting.append(run_id)
                    continue
                self.journal.rewrite(run_id, [])
            self.journal.forget(run_id)
            synced += 1
        return synced, waiting

    def experiment_id(self, name: str, artifact_root: Path | None = None) -> str:
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        # A tracking server keeps artifacts under its own artifact root (served over HTTP to every node); a local
        # store keeps them beside the work directory.
        remote = self.uri.startswith(("http://", "https://"))
        location = artifact_root.resolve().as_uri() if artifact_root and not remote else None
        return self.client.create_experiment(name, artifact_location=location)

    def set_runs_view(self, experiment_id: str, columns: dict[str, list[str]]) -> str:
        """The experiment's trial runs as the MLflow UI (3.15+) should show them: a shared view (an experiment tag the
        UI reads for ``#/experiments/<id>/runs?viewStateShareKey=<key>``) that lists every trial run, grouped by task
        (without a grouping the UI folds them under their parent run), newest first, with ``columns`` (``{"params":
        [...], "metrics": [...], "tags": [...]}``) shown; and the experiment marked as model training, so the UI does
        not open it on its GenAI overview. Returns the view's key."""
        selected = [f"{kind}.`{name}`" for kind, names in columns.items() for name in names]
        state = {"searchFilter": f"tags.`{KIND_TAG}` = 'trial'", "orderByKey": "attributes.start_time",
                 "orderByAsc": False, "selectedColumns": selected,
                 "groupBy": {"aggregateFunction": "average", "groupByKeys": [{"mode": "param", "groupByData": "task"}]}}
        self.client.set_experiment_tag(experiment_id, f"mlflow.sharedViewState.{RUNS_VIEW_KEY}", json.dumps(state))
        self.client.set_experiment_tag(experiment_id, "mlflow.experimentKind", "custom_model_development")
        return RUNS_VIEW_KEY

    def find_experiment(self, name: str) -> str | None:
        """The id of the experiment called ``name``, or None when there is none."""
        experiment = self.client.get_experiment_by_name(name)
        return experiment.experiment_id if experiment is not None else None

    def require_experiment(self, name: str) -> str:
        """The id of the experiment called ``name``; a PolymixError listing the known ones when there is none (a typo
        must not read as an empty study)."""
        experiment_id = self.find_experiment(name)
        if experiment_id is None:
            known = ", ".join(self.experiment_names()) or "none"
            raise PolymixError(f"experiment {name!r} not found at {redact_uri(self.uri)}; known experiments: {known}. "
                               "Give the study's experiment name (its `name`, or `tracking.experiment`)")
        return experiment_id

    def experiment_names(self) -> list[str]:
        """The studies' experiments (not MLflow's own empty "Default", id 0)."""
        return sorted(experiment.name for experiment in self.client.search_experiments() if experiment.experiment_id != "0")

    def get_run(self, run_id: str) -> RunRecord:
        return RunRecord.from_mlflow(self.client.get_run(run_id))

    def artifact_names(self, run_id: str) -> set[str]:
        """The run's top-level artifacts (files and folders)."""
        return {artifact.path for artifact in self.client.list_artifacts(run_id)}

    def read_text(self, run_id: str, artifact_file: str) -> str:
        with tempfile.TemporaryDirectory() as scratch:
            return Path(self.client.download_artifacts(run_id, artifact_file, scratch)).read_text(encoding="utf-8")

    def log_folder(self, run_id: str, folder: Path, artifact_path: str) -> None:
        self.client.log_artifacts(run_id, str(folder), artifact_path)

    def log_figure(self, run_id: str, figure, artifact_file: str) -> bool:
        """A matplotlib figure as an image artifact; False (not logged, not journaled) while the server is away."""
        return self._attempt(lambda: self.client.log_figure(run_id, figure, artifact_file))[0]

    def log_table(self, run_id: str, table, artifact_file: str) -> bool:
        """A pandas DataFrame as MLflow's table artifact (JSON the UI shows as a table); False (not logged, not
        journaled) while the server is away."""
        return self._attempt(lambda: self.client.log_table(run_id, table, artifact_file))[0]

    def search_all(self, experiment_id: str, query: str) -> list[RunRecord]:
        """Every run of the experiment that matches ``query`` (MLflow's filter syntax), newest first, page after page."""
        runs, token = [], None
        while True:
            page = self.client.search_runs([experiment_id], query, order_by=["attributes.start_time DESC"],
                                           max_results=SEARCH_PAGE_SIZE, page_token=token)
            runs += [RunRecord.from_mlflow(run) for run in page]
            token = page.token
            if not token:
                return runs

    def runs_tagged(self, experiment_id: str, tag: str, value: str, finished: bool = False) -> list[RunRecord]:
        """The experiment's runs whose ``tag`` is ``value`` (only the finished ones: ``finished``), newest first."""
        return self._search(experiment_id, tag, value, " and attributes.status = 'FINISHED'" if finished else "")

    def _search(self, experiment_id: str, tag: str, value: str, extra: str = "") -> list[RunRecord]:
        return self.search_all(experiment_id, f"tags.`{tag}` = '{value}'{extra}")

    def parent_run(self, experiment_id: str, study_hash: str, study_name: str, params: dict[str, Any],
                   kind: str = "sweep", study=None) -> tuple[str, bool]:
        """The sweep's (or search's) parent run: reused when the same study ran before. A new one gets ``params``
        and, given the ``study``, its params (``study_params``) and the whole study as the artifact ``study.json``."""
        existing = self._search(experiment_id, STUDY_HASH_TAG, study_hash)
        if existing:
            run_id = existing[0].run_id
            self.client.update_run(run_id, status="RUNNING")
            return run_id, True
        run = self.client.create_run(
            experiment_id,
            run_name=f"{study_name}-{kind}",
            tags={STUDY_HASH_TAG: study_hash, KIND_TAG: kind},
        )
        self.log_params(run.info.run_id, {**(study_params(study) if study is not None else {}), **params})
        if study is not None:
            self.log_text(run.info.run_id, json.dumps(study_document(study), indent=2, ensure_ascii=False), "study.json")
        return run.info.run_id, False

    def finished_child(self, experiment_id: str, spec_hash: str) -> RunRecord | None:
        runs = self._search(experiment_id, SPEC_HASH_TAG, spec_hash, " and attributes.status = 'FINISHED'")
        return runs[0] if runs else None

    def start_child(self, experiment_id: str, parent_run_id: str, spec_hash: str, name: str, params: dict, tags: dict) -> str:
        """A trial's run; an unfinished run of the same spec (a crashed attempt) is reused, not duplicated. With
        the tracking server down, the run gets a provisional id and is created when its journal is replayed."""
        args = [experiment_id, parent_run_id, spec_hash, name, params, tags]
        if self.journal is None:
            return self._create_child(*args)
        # (the server may go away during the call too: then, as when it is away before, the run starts offline)
        created, run_id = self._attempt(lambda: self._create_child(*args))
        if not created:
            run_id = f"offline-{spec_hash}"
            with self.journal.lock(run_id):
                if not self.journal.has(run_id):
                    self.journal.append(run_id, "create_child", args)
        return run_id

    def _create_child(self, experiment_id: str, parent_run_id: str, spec_hash: str, name: str, params: dict, tags: dict) -> str:
        unfinished = self._search(experiment_id, SPEC_HASH_TAG, spec_hash)
        if unfinished:
            run_id = unfinished[0].run_id
            self.client.update_run(run_id, status="RUNNING")
            return run_id
        run = self.client.create_run(
            experiment_id,
            run_name=name,
            tags={MLFLOW_PARENT_RUN_ID: parent_run_id, SPEC_HASH_TAG: spec_hash, KIND_TAG: "trial", **tags},
        )
        self._log_params(run.info.run_id, params)
        return run.info.run_id

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        self._write(run_id, "log_params", params)

    def _log_params(self, run_id: str, params: dict[str, Any]) -> None:
        items = [Param(k, v if isinstance(v, str) else json.dumps(v)) for k, v in params.items()]
        self.client.log_batch(run_id, params=items)

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        """Numeric values at ``step``, stamped with the time they were measured (kept through a journal's replay:
        MLflow's charts by wall time, and benchmarks/trial_overhead.py, read it)."""
        numeric = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
        self._write(run_id, "log_metrics", numeric, step, int(time.time() * 1000))

    def _log_metrics(self, run_id: str, metrics: dict[str, float], step: int, timestamp_ms: int = 0) -> None:
        # (timestamp 0: a journal entry written before the time was kept)
        numeric = [Metric(k, v, timestamp_ms, step) for k, v in metrics.items()]
        for start in range(0, len(numeric), 500):
            self.client.log_batch(run_id, metrics=numeric[start : start + 500])

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        self._write(run_id, "set_tags", {k: str(v) for k, v in tags.items()})

    def _set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self._write(run_id, "log_text", text, artifact_file)

    def _log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.client.log_text(run_id, text, artifact_file)

    def finish(self, run_id: str, status: str = "FINISHED") -> None:
        self._write(run_id, "finish", status)

    def _finish(self, run_id: str, status: str) -> None:
        self.client.set_terminated(run_id, status=status)

    def flag_stopped(self, experiment_id: str, spec_hash: str, reason: str) -> None:
        """Tag the running run of a spec with why a scheduler stops it (its status is the trial's, or mark_stopped's)."""
        if self.reachable():
            for run in self._search(experiment_id, SPEC_HASH_TAG, spec_hash, " and attributes.status = 'RUNNING'"):
                self.set_tags(run.run_id, {STOPPED_TAG: reason})

    def end_interrupted(self, run_id: str) -> str | None:
        """End the run of a trial whose work ended in an exception: KILLED when a scheduler stopped it (its
        STOPPED_TAG), else FAILED; a run already ended is left as it is (returns None). Tune does not wait for a
        stopped trial's actor, so the driver's :meth:`mark_stopped` may have ended the run KILLED before this
        trial's handler gets here: a later FAILED must not overwrite it."""
        if run_id.startswith("offline-") or not self.reachable():
            self.finish(run_id, "FAILED")
            return "FAILED"
        run = self.get_run(run_id)
        if run.status != "RUNNING":
            return None
        status = "KILLED" if run.tags.get(STOPPED_TAG) else "FAILED"
        self.finish(run_id, status)
        return status

    def mark_stopped(self, experiment_id: str, spec_hashes: list[str], reason: str) -> int:
        """Runs of trials a scheduler stopped early: KILLED with the reason, so that none is mistaken for a live
        run or a crash; their per-epoch metrics stay."""
        marked = 0
        for spec_hash in spec_hashes:
            for run in self._search(experiment_id, SPEC_HASH_TAG, spec_hash, " and attributes.status != 'FINISHED'"):
                self.set_tags(run.run_id, {STOPPED_TAG: reason})
                self.finish(run.run_id, "KILLED")
                marked += 1
        return marked

    def latest_parent(self, experiment_id: str) -> RunRecord | None:
        """The experiment's most recent sweep or search run (None if it has none); tuning runs are not studies."""
        runs = self.client.search_runs([experiment_id], f"tags.`{KIND_TAG}` != 'trial' and tags.`{KIND_TAG}` != 'tuning'",
                                       order_by=["attributes.start_time DESC"], max_results=1)
        return RunRecord.from_mlflow(runs[0]) if runs else None

    def tuned_values(self, experiment_id: str, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[dict, str]]:
        """For each (model, task), the best values of the latest finished tuning run that tuned it, and that run's
        id; pairs no tuning run covers are left out."""
        runs = self.search_all(experiment_id, f"tags.`{KIND_TAG}` = 'tuning' and attributes.status = 'FINISHED'")
        found = {}
        for model, task in pairs:
            run = next((run for run in runs if tuned_tag(model, task) in run.tags), None)
            if run is not None:
                found[model, task] = (json.loads(run.tags[tuned_tag(model, task)]), run.run_id)
        return found

    def runs_by_spec_hash(self, experiment_id: str) -> dict[str, list[RunRecord]]:
        """Every trial run of the experiment, grouped by spec hash, newest first."""
        runs = self.search_all(experiment_id, f"tags.`{KIND_TAG}` = 'trial'")
        grouped: dict[str, list] = {}
        for run in runs:
            grouped.setdefault(run.tags.get(SPEC_HASH_TAG, ""), []).append(run)
        return grouped

    def trial_runs(self, experiment: str, parent_run_id: str | None = None) -> list[RunRecord]:
        """Finished trial runs of an experiment (optionally of one sweep), newest first."""
        experiment_id = self.find_experiment(experiment)
        if experiment_id is None:
            return []
        query = f"tags.`{KIND_TAG}` = 'trial' and attributes.status = 'FINISHED'"
        if parent_run_id:
            query += f" and tags.`{MLFLOW_PARENT_RUN_ID}` = '{parent_run_id}'"
        return self.search_all(experiment_id, query)
