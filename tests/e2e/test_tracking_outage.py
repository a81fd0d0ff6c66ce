"""The tracking server goes away in the middle of a sweep, for real (`polymix server` stopped by its PID). Trials
keep training; what they log is kept in the local journal and reaches MLflow once the server is back: during the
sweep, or afterwards with `polymix sync`. Every epoch and evaluation metric arrives exactly once."""

import subprocess
import sys

import pytest
from mlflow.tracking import MlflowClient

from tests.e2e.test_faults import ONE_TRIAL, epochs_logged, finish, start, stop_session, trial_runs, wait_for
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
        assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["predictions.jsonl", "trial_spec.json"]


def team_server(tmp_path):
    """A `polymix server` in ``tmp_path/server``: its folder, port, URL, process and a client of it."""
    home, port = tmp_path / "server", free_port()
    home.mkdir()
    url = f"http://127.0.0.1:{port}"
    return home, port, url, start_server(home, port), MlflowClient(url)


def test_server_back_during_the_sweep(tmp_path):
    home, port, url, server, client = team_server(tmp_path)
    # 8 epochs (~40 s a trial here): the server, restarted (~20 s to answer), is back before the trials end.
    driver = start(tmp_path / "work", "--set", "train.epochs=8", tracking_uri=url)
    try:
        wait_for(lambda: any(epochs_logged(client, r.info.run_id) for r in trial_runs(client)), driver, "a first epoch")
        stop_server(server, url)
        # Away while trials train (and new ones start): everything they log goes to the journal.
        journal = tmp_path / "work" / "ray_results" / "tracking_journal"
        wait_for(lambda: len(list(journal.glob("*.jsonl"))) >= 2, driver, "two runs journaled during the outage")
        server = start_server(home, port)
        output = finish(driver)
    finally:
        stop_session(driver)
        stop_server(server, url)
    server = start_server(home, port)
    try:
        assert_complete(MlflowClient(url), expected_runs=3, epochs=8)
        # Each run's journal reached MLflow: a running trial's by its next write once the server was back, a run
        # that ended during the outage at the end of the sweep ("tracking journal: N run(s) written").
        assert not list(journal.glob("*.jsonl"))
        assert "still kept" not in output
    finally:
        stop_server(server, url)


def test_server_away_until_the_end_then_polymix_sync(tmp_path):
    home, port, url, server, client = team_server(tmp_path)
    driver = start(tmp_path / "work", *ONE_TRIAL, tracking_uri=url)
    try:
        wait_for(lambda: any(epochs_logged(client, r.info.run_id) == [1] for r in trial_runs(client)), driver, "epoch 1")
        stop_server(server, url)
        output = finish(driver)  # the sweep ends with the server still down: nothing lost, all journaled
    finally:
        stop_session(driver)
    assert "still kept in" in output and "run `polymix sync` once it is back" in output
    server = start_server(home, port)
    try:
        done = subprocess.run([sys.executable, "-m", "ray_jobs.cli", "--workdir", str(tmp_path / "work"), "sync",
                               "--tracking-uri", url], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and "synced 2 run(s)" in done.stdout, done.stdout + done.stderr  # the trial, the parent
        assert_complete(client, expected_runs=1)
        parent = client.search_runs([client.get_experiment_by_name("faults").experiment_id], "tags.`polymix.kind` = 'sweep'")
        assert parent[0].info.status == "FINISHED" and parent[0].data.metrics["trials_finished"] == 1
    finally:
        stop_server(server, url)
