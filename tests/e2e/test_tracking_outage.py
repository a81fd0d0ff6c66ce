"""The tracking server goes away in the middle of a sweep, for real (`polymix server` stopped by its PID). Trials
keep training; what they log is kept in the local journal and reaches MLflow once the server is back: during the
sweep, or afterwards with `polymix sync`. Every epoch and evaluation metric arrives exactly once. One sweep shows
both (two outages), to spend one study's training on them."""

import os
import subprocess
import sys

import pytest
from mlflow.tracking import MlflowClient

from tests.e2e.test_faults import epochs_logged, finish, start, stop_session, trial_runs, wait_for
from tests.e2e.test_submit import free_port
from tests.e2e.test_tracking_server import ROOT, start_server, stop_server

pytestmark = pytest.mark.e2e
EVAL_METRICS = {"eval/acc/en", "eval/acc/es", "eval/acc/ja", "eval/n/ja"}


def assert_complete(client: MlflowClient, expected_runs: int, epochs: int = 3) -> None:
    runs = trial_runs(client)
    assert len(runs) == expected_runs and len({r.data.tags["polymix.spec_hash"] for r in runs}) == expected_runs
    for run in runs:
        assert run.info.status == "FINISHED", run.info
        assert EVAL_METRICS <= set(run.data.metrics), sorted(run.data.metrics)
        if run.data.params["baseline"] == "false":
            assert epochs_logged(client, run.info.run_id) == list(range(1, epochs + 1))  # every epoch, each once
            assert len(client.get_metric_history(run.info.run_id, "train/loss")) == epochs
        # (the accuracy figure and table are drawn only while the server answers: images and tables are not journaled)
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"predictions.jsonl", "trial_spec.json"} <= artifacts <= {"predictions.jsonl", "trial_spec.json",
                                                                        "accuracy_by_language.png", "accuracy_by_language.json"}


def team_server(tmp_path):
    """A `polymix server` in ``tmp_path/server``: its folder, port, URL, process and a client of it."""
    home, port = tmp_path / "server", free_port()
    home.mkdir()
    url = f"http://127.0.0.1:{port}"
    return home, port, url, start_server(home, port), MlflowClient(url)


def test_server_away_twice_during_a_sweep_then_polymix_sync(tmp_path):
    """One sweep, two outages. The first ends while trials still train: a running trial's journal reaches MLflow with
    its next write. The second lasts until the sweep ends: what is still kept is written by `polymix sync`."""
    home, port, url, server, client = team_server(tmp_path)
    # 8 epochs (~60 s for en-es here): both outages fit in the sweep (a server restart takes ~14 s to answer).
    driver = start(tmp_path / "work", "--set", "train.epochs=8", tracking_uri=url)
    journal = tmp_path / "work" / "ray_results" / "tracking_journal"
    try:
        wait_for(lambda: any(epochs_logged(client, r.info.run_id) for r in trial_runs(client)), driver, "a first epoch")
        stop_server(server, url)
        # Away while trials train (and new ones start): everything they log goes to the journal.
        wait_for(lambda: len(list(journal.glob("*.jsonl"))) >= 2, driver, "two runs journaled during the outage")
        server = start_server(home, port)
        kept = set(journal.glob("*.jsonl"))
        wait_for(lambda: kept - set(journal.glob("*.jsonl")), driver, "a journal written to MLflow during the sweep")
        stop_server(server, url)
        output = finish(driver)  # the sweep ends with the server down again: nothing lost, all journaled
    finally:
        stop_session(driver)
    assert "still kept in" in output and "run `polymix sync` once it is back" in output
    assert list(journal.glob("*.jsonl"))
    server = start_server(home, port)
    try:
        done = subprocess.run([sys.executable, "-m", "ray_jobs.cli", "--workdir", str(tmp_path / "work"), "sync",
                               "--tracking-uri", url], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and "synced" in done.stdout, done.stdout + done.stderr
        assert_complete(client, expected_runs=3, epochs=8)  # every epoch and evaluation metric, each once
        assert not list(journal.glob("*.jsonl"))
        parent = client.search_runs([client.get_experiment_by_name("faults").experiment_id], "tags.`polymix.kind` = 'sweep'")
        assert parent[0].info.status == "FINISHED" and parent[0].data.metrics["trials_finished"] == 3
    finally:
        stop_server(server, url)


def test_a_ratio_search_goes_on_through_a_server_outage_then_polymix_sync(tmp_path):
    """Climb learns each run's losses from Tune, not from MLflow: with the server stopped after its first run the search
    still runs all its runs and recommends; its runs and recommendation wait in the journal for `polymix sync`."""
    from tests.e2e.test_climb import recommendation
    from tests.e2e.test_micro_study import children

    home, port, url, server, client = team_server(tmp_path)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MLFLOW_TRACKING_URI": url}
    env.pop("RAY_ADDRESS", None)
    driver = subprocess.Popen([sys.executable, "-m", "ray_jobs.cli", "--workdir", str(tmp_path / "work"), "climb",
                               "tests/e2e/climb_micro.yaml"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    journal = tmp_path / "work" / "ray_results" / "tracking_journal"
    try:
        wait_for(lambda: [r for r in trial_runs(client, "climb-micro") if r.info.status == "FINISHED"], driver,
                 "a first finished search run")
        stop_server(server, url)
        output = finish(driver)  # the whole search with the server away
    finally:
        stop_session(driver)
    assert "recommended mixture: " in output and "still kept in" in output, output[-3000:]
    assert "transfer_matrix.png not logged: the tracking server does not answer" in output
    server = start_server(home, port)
    try:
        done = subprocess.run([sys.executable, "-m", "ray_jobs.cli", "--workdir", str(tmp_path / "work"), "sync",
                               "--tracking-uri", url], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and "synced" in done.stdout, done.stdout + done.stderr
        assert not list(journal.glob("*.jsonl"))
        experiment = client.get_experiment_by_name("climb-micro")
        [parent] = client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'search'")
        assert parent.info.status == "FINISHED"
        runs = children(client, experiment.experiment_id, parent.info.run_id)
        assert len(runs) in (6, 7) and all(run.info.status == "FINISHED" for run in runs)
        assert len({run.data.tags["polymix.spec_hash"] for run in runs}) == len(runs)  # none duplicated
        assert all({"val/objective", "selected/val/loss/en", "eval/acc/fr"} <= set(run.data.metrics) for run in runs)
        summary = recommendation(client, parent, tmp_path)
        assert summary["runs_finished"] == len(runs) and sum(summary["recommended"]["counts"].values()) == 128
    finally:
        stop_server(server, url)
