"""Safe defaults of the local Ray instance `polymix run` starts: token authentication on, dashboard on 127.0.0.1."""

import stat
from pathlib import Path

import pytest
import ray
import requests

from search.runs.cluster import init_ray
from search.study import load_study

pytestmark = pytest.mark.e2e


def test_local_ray_requires_a_private_token_and_listens_on_localhost_only(tmp_path, monkeypatch):
    for name in ("RAY_AUTH_MODE", "RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)  # as on a new machine: Ray's default (token) and no token yet
    monkeypatch.setenv("HOME", str(tmp_path))  # Ray's token place, ~/.ray/auth_token, inside the test's folder
    from ray._raylet import AuthenticationTokenLoader

    AuthenticationTokenLoader.instance().reset_cache()  # forget the token an earlier test of this process read
    study = load_study(Path(__file__).resolve().parents[2] / "tests/e2e/micro.yaml")
    init_ray(study, None, tmp_path)
    token_file = tmp_path / ".ray" / "auth_token"
    try:
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600, oct(token_file.stat().st_mode)
        assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700, oct(token_file.parent.stat().st_mode)
        from ray._private.authentication.authentication_utils import is_token_auth_enabled
        from ray._private.worker import get_dashboard_url

        assert is_token_auth_enabled()
        dashboard = get_dashboard_url()
        assert dashboard.startswith("127.0.0.1:"), dashboard
        token = token_file.read_text().strip()
        assert len(token) >= 32
        anonymous = requests.get(f"http://{dashboard}/api/jobs/", timeout=30)
        assert anonymous.status_code in (401, 403), anonymous.status_code  # the job server refuses a caller without it
        authorised = requests.get(f"http://{dashboard}/api/jobs/", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert authorised.status_code == 200
    finally:
        ray.shutdown()
        AuthenticationTokenLoader.instance().reset_cache()
