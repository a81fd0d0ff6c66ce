"""`polymix submit`: run a study as a Ray job on a cluster, through Ray's JobSubmissionClient.

The job is exactly what `ray job submit` would run:

    ray job submit --address http://HEAD:8265 --working-dir . -- \
        python -m ray_jobs.cli --workdir /mnt/polymix run configs/english_not_all.yaml

The repository is the job's working dir (uploaded by Ray), and ``python -m`` makes that copy the code that
runs. With token authentication on (RAY_AUTH_MODE=token plus RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or
~/.ray/auth_token), Ray's client sends the token itself.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import time
from pathlib import Path

from training.errors import ConfigError, PolymixError


class SubmitError(PolymixError):
    """The cluster's job server refused the submission or could not be reached."""


REPO_ROOT = Path(__file__).resolve().parents[1]
# Local state and environments never travel with the job (gitignore-style patterns, as Ray reads them).
WORKING_DIR_EXCLUDES = [".git", ".venv", "venv", ".polymix", ".ray_tmp", "mlruns", "ray_results", "__pycache__",
                        "*.egg-info", ".pytest_cache", ".hypothesis"]
# Environment the job's driver needs from the submitter, when set there (never secrets' values in metadata).
FORWARDED_ENV = ["MLFLOW_TRACKING_URI", "HF_HUB_OFFLINE", "HF_HOME"]


def job_entrypoint(study: str, workdir: str, overrides: list[str]) -> str:
    sets = " ".join(f"--set {shlex.quote(item)}" for item in overrides)
    return f"python -m ray_jobs.cli --workdir {shlex.quote(workdir)} run {shlex.quote(study)}" + (f" {sets}" if sets else "")


def check_submission(study_path: str, workdir: str, overrides: list[str]) -> str:
    """The study as the job will see it (a path inside the repo), validated here before anything is sent."""
    from search.study import load_study

    if not Path(workdir).is_absolute():
        raise ConfigError(f"--workdir {workdir}: give an absolute path on storage that every node sees (e.g. "
                          "/mnt/polymix); a relative path would land in the job's temporary copy of the repo")
    path = Path(study_path).resolve()
    try:
        inside = path.relative_to(REPO_ROOT)
    except ValueError:
        raise ConfigError(f"{study_path}: the study file must be inside the repository ({REPO_ROOT}), which is the "
                          "job's working dir; copy it under configs/") from None
    load_study(path, overrides)
    return str(inside)


# A head node answers before its dashboard agent, which runs the jobs, is up: the job server then refuses with this
# message (status 500) for the first seconds after `ray start`. Submission waits for the agent this long.
NO_AGENT_YET = "No available agent"
AGENT_WAIT_S = 120


def _submit_when_an_agent_is_up(client, job: dict) -> str:
    deadline = time.monotonic() + AGENT_WAIT_S
    waiting = False
    while True:
        try:
            return client.submit_job(**job)
        except RuntimeError as error:
            if NO_AGENT_YET not in str(error) or time.monotonic() > deadline:
                raise
            if not waiting:
                print(f"[polymix] the cluster's job agent is not up yet; retrying for up to {AGENT_WAIT_S} s", flush=True)
                waiting = True
            time.sleep(3)


def submit(study_path: str, address: str, workdir: str, overrides: list[str], follow: bool) -> int:
    study = check_submission(study_path, workdir, overrides)
    from ray.exceptions import AuthenticationError
    from ray.job_submission import JobStatus, JobSubmissionClient

    from search.tracking import split_credentials

    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    if "MLFLOW_TRACKING_URI" in env:  # a password in it travels as the variable its client reads, not in the URI
        env["MLFLOW_TRACKING_URI"], credentials = split_credentials(env["MLFLOW_TRACKING_URI"])
        env.update(credentials)
    try:
        client = JobSubmissionClient(address)
        job_id = _submit_when_an_agent_is_up(client, dict(
            entrypoint=job_entrypoint(study, workdir, overrides),
            runtime_env={"working_dir": str(REPO_ROOT), "excludes": WORKING_DIR_EXCLUDES, "env_vars": env},
            metadata={"polymix.study": study},
        ))
    except (ConnectionError, RuntimeError, AuthenticationError) as error:  # a wrong token, a refusal, no server
        raise SubmitError(f"--address {address}: the job server refused or could not be reached ({error}); check the "
                          "address, and with token authentication export RAY_AUTH_MODE=token and the cluster's token "
                          "(RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token)") from None
    print(f"submitted job {job_id} to {address}")
    print(f"  logs:   ray job logs --address {address} --follow {job_id}")
    print(f"  status: ray job status --address {address} {job_id}")
    if not follow:
        return 0

    async def stream() -> None:
        async for lines in client.tail_job_logs(job_id):
            print(lines, end="", flush=True)

    asyncio.run(stream())
    status = client.get_job_status(job_id)
    print(f"job {job_id}: {status.value}")
    return 0 if status == JobStatus.SUCCEEDED else 1
