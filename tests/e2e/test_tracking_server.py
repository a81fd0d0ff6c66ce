"""A team's MLflow server: `polymix server` (SQLite backend, served artifact root) as a real process on 127.0.0.1,
a micro study tracked on it over HTTP, its report logged there, and the MLflow UI checked in headless Chromium."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from mlflow.tracking import MlflowClient

from tests.e2e.test_micro_study import assert_no_secret_recorded, children, polymix
from tests.e2e.test_submit import free_port
from training.languages import ALL_LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
URI_PASSWORD = "uriPmxTestSecret0006"


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert process.poll() is None, f"the server exited with {process.returncode}"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.read() == b"OK":
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"no MLflow server at {url} after {seconds} s")


def start_server(home: Path, port: int) -> subprocess.Popen:
    """`polymix server` on 127.0.0.1:port, on the work dir ``home`` (its default store, the SQLite file `polymix run`
    writes there) with its artifact root there too, as a real process; one uvicorn worker (MLflow's default is four:
    on this 2-core machine each start then takes ~21 s instead of ~14 s)."""
    env = dict(os.environ)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_BACKEND_STORE_URI"):
        env.pop(name, None)
    log = (home / "server.log").open("a")
    server = subprocess.Popen([sys.executable, "-m", "ray_jobs.cli", "--workdir", str(home), "server", "--port", str(port),
                               "--artifacts-destination", str(home / "artifacts"), "--", "--workers", "1"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    wait_until_up(f"http://127.0.0.1:{port}", server)
    return server


def stop_server(server: subprocess.Popen, url: str) -> None:
    server.send_signal(signal.SIGTERM)  # as the README says: `kill PID` (polymix execs mlflow, same PID)
    server.wait(timeout=60)
    with pytest.raises(OSError):  # stopped: nothing answers on the port any more
        urllib.request.urlopen(f"{url}/health", timeout=2)
    time.sleep(2)
    left = [p.pid for p in psutil.process_iter() if _session(p.pid) == server.pid]
    assert left == [], f"server processes left after kill {server.pid}: {left}"


EARLIER = "earlier-study"


def record_earlier_study(workdir: Path) -> None:
    """A study already run in the work dir without a server: its experiment and a finished trial run in the store
    `polymix run` writes (what a whole study leaves there, without running one)."""
    from search.tracking import KIND_TAG, Tracker, default_tracking_uri

    tracker = Tracker(default_tracking_uri(workdir))
    experiment_id = tracker.experiment_id(EARLIER, workdir / "mlflow-artifacts")
    run_id = tracker.client.create_run(experiment_id, run_name="tiny-s-math-en", tags={KIND_TAG: "trial"}).info.run_id
    tracker.log_metrics(run_id, {"eval/acc/en": 0.5})
    tracker.finish(run_id)


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("mlflow-server")
    record_earlier_study(home)
    port = free_port()
    server = start_server(home, port)
    url = f"http://127.0.0.1:{port}"
    try:
        yield url, home, server.pid
    finally:
        stop_server(server, url)


def _session(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


def rendered_text(url: str) -> str:
    """The page as a user's browser shows it: headless Chromium runs the MLflow UI's JavaScript, then dumps the DOM."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium not installed: .ci/run installs Debian's chromium package"
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--virtual-time-budget=30000", "--window-size=2400,1200", "--dump-dom", url], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", done.stdout, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))


def test_micro_study_on_a_team_tracking_server(tracking_server, tmp_path):
    url, home, pid = tracking_server
    server_log = (home / "server.log").read_text()
    assert f"MLflow server on {url} (backend sqlite:///{home / 'mlflow.db'}" in server_log
    assert f"Uvicorn running on {url}" in server_log
    # The study run in this work dir before the server started is there, over the REST API and in the UI.
    earlier = MlflowClient(url).get_experiment_by_name(EARLIER)
    assert earlier is not None and MlflowClient(url).search_runs([earlier.experiment_id])[0].data.metrics == {"eval/acc/en": 0.5}
    assert EARLIER in rendered_text(f"{url}/#/experiments")
    # A password in the tracking URI (the server has no auth and ignores it) reaches no output, run or Ray result.
    with_password = url.replace("http://", f"http://polymix:{URI_PASSWORD}@")
    run = polymix(tmp_path, "run", "tests/e2e/server_micro.yaml", tracking_uri=with_password)
    assert URI_PASSWORD not in run.stdout + run.stderr and f"Browse: {url}" in run.stdout
    run_output = run.stdout

    client = MlflowClient(url)  # everything below is read back over HTTP
    experiment = client.get_experiment_by_name("server-micro")
    assert experiment.artifact_location.startswith("mlflow-artifacts:")  # the server's artifact root, not a local path
    parent = client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'sweep'")[0]
    runs = children(client, experiment.experiment_id, parent.info.run_id)
    assert sorted(r.data.params["mixture"] for r in runs) == ["en", "en-es", "untrained"]
    for run in runs:
        assert run.info.status == "FINISHED"
        assert {f"eval/acc/{lang}" for lang in ALL_LANGUAGES} | {f"eval/n/{lang}" for lang in ALL_LANGUAGES} <= set(run.data.metrics)
        assert run.data.params["model_family"] == "llama" and int(run.data.params["model_params"]) > 0
    predictions = Path(client.download_artifacts(runs[0].info.run_id, "predictions.jsonl", str(tmp_path)))
    assert len(predictions.read_text(encoding="utf-8").splitlines()) == 4 * len(ALL_LANGUAGES)
    assert list((home / "artifacts").rglob("predictions.jsonl"))  # stored under the server's artifact root
    assert_no_secret_recorded(client, experiment.experiment_id, tmp_path, {"the tracking URI's password": URI_PASSWORD})

    # The report from the server's runs, logged back to it.
    report = polymix(tmp_path, "report", "server-micro", tracking_uri=url)
    assert "3 finished, 0 missing" in report.stdout
    assert "not computed: zero-shot vs direct" in report.stdout  # no run of more than two languages
    folder = tmp_path / "reports" / "server-micro"
    # One epoch of a tiny model may score 0 everywhere: a task without signal is flagged and not compared.
    silent = all(v == 0 for run in runs for k, v in run.data.metrics.items() if k.startswith("eval/acc/"))
    text = (folder / "report.md").read_text(encoding="utf-8")
    assert ("**No signal: math**" in text) == silent
    assert {"report.md", "coverage_curves.png"} | (set() if silent else {"gains_by_language.png"}) <= {p.name for p in folder.iterdir()}
    logged = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert {"report/report.md", "report/coverage_curves.png"} <= logged

    # The UI a user browses lists the runs: the experiment's run table, and a child run's own page.
    table = rendered_text(f"{url}/#/experiments/{experiment.experiment_id}/runs")
    assert parent.info.run_name in table and "4 matching runs" in table
    # polymix's view of the trial runs (the link `polymix run` prints): every trial run listed, grouped by task, with
    # the study's columns, not folded under the sweep's parent run
    assert f"Browse: {url}/#/experiments/{experiment.experiment_id}/runs?viewStateShareKey=polymix-trials" in run_output
    view = rendered_text(f"{url}/#/experiments/{experiment.experiment_id}/runs?viewStateShareKey=polymix-trials")
    assert "Group: math 3" in view and all(r.info.run_name in view for r in runs), view[:3000]
    missing = [column for column in ("eval/avg_seen", "eval/avg_unseen", "selected/val/avg_loss", "mixture") if column not in view]
    assert not missing, (missing, view[:3000])
    child = next(run for run in runs if run.data.params["mixture"] == "en-es")
    page = rendered_text(f"{url}/#/experiments/{experiment.experiment_id}/runs/{child.info.run_id}")
    assert child.info.run_name in page and "eval/acc/en" in page
    # Each trial's accuracy per language at a glance (figure and table), the sweep's heatmap on its parent.
    assert {"accuracy_by_language.png", "accuracy_by_language.json"} <= {a.path for a in client.list_artifacts(child.info.run_id)}
    logged = json.loads(Path(client.download_artifacts(child.info.run_id, "accuracy_by_language.json", str(tmp_path))).read_text())
    rows = [dict(zip(logged["columns"], row)) for row in logged["data"]]
    assert [row["lang"] for row in rows] == list(ALL_LANGUAGES)
    for row in rows:
        assert row["accuracy"] == child.data.metrics[f"eval/acc/{row['lang']}"] and row["low"] <= row["accuracy"] <= row["high"]
        assert row["trained"] == (row["lang"] in ("en", "es"))
    assert "accuracy_heatmap.png" in {a.path for a in client.list_artifacts(parent.info.run_id)}
    artifacts = rendered_text(f"{url}/#/experiments/{experiment.experiment_id}/runs/{child.info.run_id}/artifacts")
    assert "accuracy_by_language.png" in artifacts and "accuracy_by_language.json" in artifacts
