"""Where the tracking store is and whether it answers: URIs, credentials kept out of them, reachability.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import requests

from training.errors import PolymixError


def redact_uri(uri: str) -> str:
    """``postgresql://user:secret@db:5432/mlflow`` → ``postgresql://user:***@db:5432/mlflow``."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))



# Where the clients of a tracking store read its credentials: MLflow's REST client, and libpq for PostgreSQL.
CREDENTIAL_ENV = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "PGPASSWORD")


def split_credentials(uri: str) -> tuple[str, dict[str, str]]:
    """A tracking URI without its password, and the environment variables that carry the credentials instead.

    The URI travels in every trial's Tune config, which Ray writes to disk (ray_results); the environment does
    not. ``http://user:pw@host`` → MLFLOW_TRACKING_USERNAME / _PASSWORD (MLflow sends them as basic auth);
    ``postgresql://user:pw@db/mlflow`` → PGPASSWORD (libpq's). Other schemes have no such variable: unchanged.
    """
    parts = urlsplit(uri)
    if parts.password is None:
        return uri, {}
    userinfo, _, host = parts.netloc.rpartition("@")
    if parts.scheme in ("http", "https"):
        credentials = {"MLFLOW_TRACKING_USERNAME": unquote(parts.username or ""), "MLFLOW_TRACKING_PASSWORD": unquote(parts.password)}
        return urlunsplit(parts._replace(netloc=host)), credentials
    if parts.scheme.split("+")[0] == "postgresql":
        user = userinfo.partition(":")[0]  # as written (percent-encoded), for the URI
        return urlunsplit(parts._replace(netloc=f"{user}@{host}")), {"PGPASSWORD": unquote(parts.password)}
    return uri, {}





def default_tracking_uri(workdir: Path) -> str:
    return f"sqlite:///{(workdir / 'mlflow.db').resolve()}"


def tracking_reachable(uri: str) -> bool:
    """Whether the tracking server answers now (a local store always does). Asked before a write, because
    MLflow's own retries keep a call to a dead server waiting for minutes before it fails."""
    if not uri.startswith(("http://", "https://")):
        return True
    try:
        return requests.get(f"{uri.rstrip('/')}/health", timeout=5).ok
    except requests.RequestException:
        return False


def check_tracking_server(uri: str) -> None:
    """Before a sweep or search prepares anything: its parent run and reuse checks need the server."""
    if not tracking_reachable(uri):
        raise PolymixError(f"MLflow tracking server {redact_uri(uri)} does not answer; start it (polymix server) or point "
                           "MLFLOW_TRACKING_URI / tracking.uri at a running one. Nothing was started")
