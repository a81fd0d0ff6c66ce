"""Safe defaults of the local Ray instance `polymix run` starts: token authentication on, dashboard on 127.0.0.1."""

import secrets
from pathlib import Path

import pytest
import ray
import requests

from search.runs.cluster import init_ray
from search.study import load_study

pytestmark = pytest.mark.e2e


def test_local_ray_requires_its_token_and_listens_on_localhost_only(tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)  # polymix leaves Ray's default (token) in place
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    (tmp_path / "auth_token").write_text(secrets.token_hex(32))  # kept in the test's folder, not ~/.ray
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "auth_token"))
    study = load_study(Path(__file__).resolve().parents[2] / "tests/e2e/micro.yaml")
    init_ray(study, None, tmp_path)
    try:
        from ray._private.authentication.authentication_utils import is_token_auth_enabled
        from ray._private.worker import get_dashboard_url

        assert is_token_auth_enabled()
        dashboard = get_dashboard_url()
        assert dashboard.startswith("127.0.0.1:"), dashboard
        token = (tmp_path / "auth_token").read_text().strip()
        assert len(token) >= 32
        anonymous = requests.get(f"http://{dashboard}/api/jobs/", timeout=30)
        assert anonymous.status_code in (401, 403), anonymous.status_code  # the job server refuses a caller without it
        authorised = requests.get(f"http://{dashboard}/api/jobs/", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert authorised.status_code == 200
    finally:
        ray.shutdown()
