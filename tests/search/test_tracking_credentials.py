"""A password in the tracking URI leaves the URI (which Ray writes into every trial's config on disk) for the
environment variable its client reads; MLflow's client then authenticates with it."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from mlflow.tracking import MlflowClient

from search.runs.cluster import _credentials_for_workers
from search.tracking import CREDENTIAL_ENV, split_credentials


@pytest.mark.parametrize("uri, clean, credentials", [
    ("http://alice:s3cr%40t@mlflow.internal:5000", "http://mlflow.internal:5000",
     {"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": "s3cr@t"}),
    ("https://bob:pw@[::1]:443/prefix", "https://[::1]:443/prefix",
     {"MLFLOW_TRACKING_USERNAME": "bob", "MLFLOW_TRACKING_PASSWORD": "pw"}),
    ("postgresql+psycopg2://mlflow:s3cr3t@db:5432/mlflow", "postgresql+psycopg2://mlflow@db:5432/mlflow",
     {"PGPASSWORD": "s3cr3t"}),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000", {}),
    ("sqlite:////srv/mlflow.db", "sqlite:////srv/mlflow.db", {}),
    ("mysql://u:pw@db/mlflow", "mysql://u:pw@db/mlflow", {}),  # no variable its driver reads: left as it is
])
def test_split_credentials(uri, clean, credentials):
    assert split_credentials(uri) == (clean, credentials)


def test_mlflow_authenticates_with_the_moved_password(monkeypatch):
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # experiments/search
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append(self.headers.get("Authorization"))
            body = json.dumps({"experiments": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            """No access log in the test output."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        uri, credentials = split_credentials(f"http://alice:s3cr3t@127.0.0.1:{server.server_port}")
        for name, value in credentials.items():
            monkeypatch.setenv(name, value)
        assert "s3cr3t" not in uri
        MlflowClient(uri).search_experiments()
    finally:
        server.shutdown()
    assert seen == ["Basic YWxpY2U6czNjcjN0"]  # base64("alice:s3cr3t")


def test_a_remote_clusters_workers_get_the_credentials_a_submitted_job_does_not_already_set(monkeypatch):
    for name in CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("RAY_JOB_CONFIG_JSON_ENV_VAR", raising=False)
    assert _credentials_for_workers() is None
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cr3t")
    assert _credentials_for_workers() == {"env_vars": {"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": "s3cr3t"}}
    # Inside a job `polymix submit` sent, its runtime env already has them: Ray would refuse to merge them twice.
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", json.dumps(
        {"runtime_env": {"env_vars": {"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": "s3cr3t"}}}))
    assert _credentials_for_workers() is None
