"""The tracking journal: writes made while MLflow is unreachable are kept in order and replayed exactly once."""

import time

from mlflow.tracking import MlflowClient

from search.tracking import Tracker


class Outage:
    """Switches a Tracker's view of the server: ``down`` makes every write go to the journal."""

    def __init__(self, monkeypatch):
        self.down = False
        monkeypatch.setattr(Tracker, "reachable", lambda tracker: not self.down)


def sweep_tracker(tmp_path):
    """A journaling Tracker on a local store, with an experiment and a sweep's parent run."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, tmp_path / "journal")
    experiment_id = tracker.experiment_id("outage")
    parent, _ = tracker.parent_run(experiment_id, "h", "outage", {})
    return uri, tracker, experiment_id, parent


def test_a_run_started_and_logged_during_an_outage_is_created_once_on_replay(tmp_path, monkeypatch):
    outage = Outage(monkeypatch)
    uri, tracker, experiment_id, parent = sweep_tracker(tmp_path)

    outage.down = True
    run_id = tracker.start_child(experiment_id, parent, "spec1", "m/t/x", {"lr": 0.1}, {"polymix.baseline": "false"})
    assert run_id == "offline-spec1"
    before = time.time() * 1000
    for epoch in (1, 2):  # as the Train controller's callback logs them, from another Tracker
        Tracker(uri, tmp_path / "journal").log_metrics(run_id, {"val/avg_acc": 0.1 * epoch, "epoch": epoch}, step=epoch)
    after = time.time() * 1000
    time.sleep(1.0)  # the replay comes later
    client = MlflowClient(uri)
    assert client.search_runs([experiment_id], "tags.`polymix.kind` = 'trial'") == []  # nothing reached MLflow

    outage.down = False  # back: the next write replays the journal first, then goes straight to MLflow
    tracker.log_metrics(run_id, {"eval/acc/en": 0.5})
    runs = client.search_runs([experiment_id], "tags.`polymix.kind` = 'trial'")
    assert len(runs) == 1 and runs[0].data.params["lr"] == "0.1"
    real_id = runs[0].info.run_id
    assert sorted((m.step, m.value) for m in client.get_metric_history(real_id, "val/avg_acc")) == [(1, 0.1), (2, 0.2)]
    # stamped when measured, not when replayed (nor at 0, 1970, as polymix once stamped every metric)
    assert all(before - 1 <= m.timestamp <= after + 1 for m in client.get_metric_history(real_id, "val/avg_acc"))
    assert runs[0].data.metrics["eval/acc/en"] == 0.5

    outage.down = True  # a second outage: the final status waits in the journal, under the offline id
    tracker.finish(run_id)
    assert client.get_run(real_id).info.status == "RUNNING"
    assert tracker.sync() == (0, ["offline-spec1"])
    outage.down = False
    assert tracker.sync() == (1, [])
    assert client.get_run(real_id).info.status == "FINISHED"
    assert len(client.search_runs([experiment_id], "tags.`polymix.kind` = 'trial'")) == 1  # created exactly once
    assert len(client.get_metric_history(real_id, "val/avg_acc")) == 2  # each epoch logged exactly once
    assert list((tmp_path / "journal").iterdir()) == []


def test_an_existing_run_keeps_its_order_across_an_outage(tmp_path, monkeypatch):
    outage = Outage(monkeypatch)
    uri, tracker, experiment_id, parent = sweep_tracker(tmp_path)
    run_id = tracker.start_child(experiment_id, parent, "spec2", "m/t/y", {}, {})
    tracker.log_metrics(run_id, {"val/avg_acc": 0.1}, step=1)
    outage.down = True
    tracker.log_metrics(run_id, {"val/avg_acc": 0.2}, step=2)
    tracker.log_text(run_id, "predictions\n", "predictions.jsonl")
    tracker.finish(run_id)
    client = MlflowClient(uri)
    assert [m.step for m in client.get_metric_history(run_id, "val/avg_acc")] == [1]
    outage.down = False
    assert tracker.sync() == (1, [])
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and sorted(m.step for m in client.get_metric_history(run_id, "val/avg_acc")) == [1, 2]
    assert [a.path for a in client.list_artifacts(run_id)] == ["predictions.jsonl"]
