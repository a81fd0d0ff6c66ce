"""`polymix server`: one MLflow tracking server for a team, with a SQL backend and an artifact root.

The database connection (it may hold a password) is read from ``MLFLOW_BACKEND_STORE_URI`` in the server's
environment, which ``mlflow server`` reads itself: it never appears on a command line (visible in ``ps``), in
polymix's output (printed redacted) or in any run. Clients (``polymix run`` on any node) only see the server's
HTTP address, through ``MLFLOW_TRACKING_URI`` or the study's ``tracking.uri``; artifacts go through the server
(``--serve-artifacts``), so nodes need no shared file system or storage credentials of their own.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from search.tracking import default_tracking_uri, redact_uri

BACKEND_ENV = "MLFLOW_BACKEND_STORE_URI"


def server_command(workdir: Path, host: str, port: int, artifacts: str | None, extra: list[str]) -> tuple[list[str], dict, str]:
    """The ``mlflow server`` command line, its environment and the backend store it will use."""
    env = dict(os.environ)
    # By default the store `polymix run`, `runs` and `report` use in this work dir: the server shows its studies.
    backend = env.get(BACKEND_ENV) or default_tracking_uri(workdir)
    env[BACKEND_ENV] = backend
    # MLflow's GenAI job runners (trace scoring, archival) are separate worker processes polymix never uses.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    artifacts = artifacts or str((workdir / "mlflow-artifacts").resolve())
    mlflow = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or shutil.which("mlflow") or "mlflow"
    command = [mlflow, "server", "--host", host, "--port", str(port), "--serve-artifacts",
               "--artifacts-destination", artifacts, *extra]
    return command, env, backend


def serve(workdir: Path, host: str, port: int, artifacts: str | None, extra: list[str]) -> None:
    """Replace this process with the MLflow server (same PID: stop it with ``kill PID``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    command, env, backend = server_command(workdir, host, port, artifacts, extra)
    print(f"[polymix] MLflow server on http://{host}:{port} (backend {redact_uri(backend)}, artifacts "
          f"{command[command.index('--artifacts-destination') + 1]}); point polymix at it with "
          f"export MLFLOW_TRACKING_URI=http://{host}:{port}", flush=True)
    os.execve(command[0], command, env)
