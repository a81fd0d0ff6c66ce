"""Ray for a study: the cluster it joins (or the local instance it starts), what each trial asks of it, and how
many trials run at once.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

import psutil
import ray
from ray import tune
from ray.tune import PlacementGroupFactory
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from search.runs.designs import TrialSpec
from search.study import Study
from search.tracking import CREDENTIAL_ENV
from training.errors import ConfigError

# Ray Train V2 gives each trial's workers a placement group of their own, outside the trial's, so Tune
# cannot see the GPUs a trial is about to take. Each GPU trial therefore holds one admission ticket per
# GPU of its worker group: a custom resource declared equal to the GPUs on every node (cluster.yaml, or
# the local instance). Tune admits pending trials in order while tickets last, so the workers always find
# their GPUs free and the trial order chosen by polymix is the order in which the cluster fills.
GPU_TICKET = "polymix_gpu_ticket"


def _credentials_for_workers() -> dict | None:
    """A remote cluster's workers do not inherit the driver's environment: the tracking credentials go in the job's
    runtime env, except those a submitted job's runtime env already sets (Ray refuses to merge a variable twice)."""
    job = json.loads(os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR", "{}"))
    already = (job.get("runtime_env") or {}).get("env_vars") or {}
    credentials = {name: os.environ[name] for name in CREDENTIAL_ENV if name in os.environ and name not in already}
    return {"env_vars": credentials} if credentials else None


def private_auth_token() -> Path | None:
    """The token a new local instance authenticates with, written private to its owner before Ray would write it.

    A local ``ray.init()`` keeps token authentication on (Ray's default) and, finding no token, writes one to
    ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token`` with the process's umask: mode 0644, readable by every user of
    the machine, who could then submit jobs to the instance. polymix writes it first, mode 0600, in a folder only its
    owner can list (``~/.ray``, or a folder it creates for ``RAY_AUTH_TOKEN_PATH``). Returns the file written, or None where a token is given (``RAY_AUTH_TOKEN``, a non-empty
    file: the user's, used as it is) or authentication is off (``RAY_AUTH_MODE``)."""
    if os.environ.get("RAY_AUTH_MODE", "token").lower() != "token" or os.environ.get("RAY_AUTH_TOKEN"):
        return None
    ray_home = Path.home() / ".ray"
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or ray_home / "auth_token").expanduser()
    if path.is_file() and path.stat().st_size:
        return None
    if path.parent == ray_home or not path.parent.exists():  # a folder of the user's own choosing stays as it is
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(stat.S_IRWXU)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_hex(32))
    path.chmod(0o600)  # os.open's mode applies to a new file only, not to an empty one that was there
    return path


def init_ray(study: Study, address: str | None, workdir: Path, shared: tuple[Path, ...] = ()) -> None:
    """Join the cluster at ``address`` (or RAY_ADDRESS) and check that every node that can run trials sees the work
    dir and the ``shared`` paths; without an address, start the embedded default's local instance."""
    # Tune's console output prints a configuration table and a TensorBoard hint even at verbose=0 (polymix logs no
    # TensorBoard files and prints its own progress lines); its legacy output prints nothing at verbose=0.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    common = dict(log_to_driver=False, configure_logging=True, logging_level="ERROR")
    if address:
        ray.init(address=address, runtime_env=_credentials_for_workers(), **common)
        check_nodes_see(workdir, shared)
    else:  # the embedded default: a local instance bound to this machine only
        if written := private_auth_token():
            print(f"[polymix] wrote a new token for the local Ray instance to {written} (readable by you only)", flush=True)
        r = study.resources
        cpus = r.local_cpus or max(os.cpu_count() or 2, 2)
        # The dashboard serves Ray's state API, which Train V2's PlacementGroupCleaner polls to free the workers'
        # placement group of a trial whose actor ended mid-training (an early-stopped or failed trial). Without
        # it such placement groups stay reserved and the next trials wait for resources forever (measured).
        end_leftover_instance(workdir)
        ray.init(num_cpus=cpus, num_gpus=r.local_gpus, resources={GPU_TICKET: r.local_gpus} if r.local_gpus else None,
                 include_dashboard=True, dashboard_host="127.0.0.1", **common)
        record_local_instance(workdir)


def _sees(marker: str, token: str, paths: list[str]) -> list[str]:
    """On one node: what of the work dir (its marker, with this drive's token) and ``paths`` it cannot see."""
    try:
        seen = Path(marker).read_text(encoding="utf-8") == token
    except OSError:
        seen = False
    missing = [] if seen else [str(Path(marker).parent)]
    for path in paths:  # (a path inside one already missing is not named again)
        if not os.path.exists(path) and not any(Path(path).is_relative_to(other) for other in missing):
            missing.append(path)
    return missing


def check_nodes_see(workdir: Path, shared: tuple[Path, ...] = ()) -> None:
    """Every node that can run a trial must see the work dir at the same path (the trials' data, checkpoints and,
    with the default tracking store, MLflow's database live there), and the data and local models the study names:
    a node that cannot would fail each trial it takes, or keep checkpoints where no other node finds them. Checked
    once, before any trial starts, by a zero-CPU task pinned to each node."""
    marker = workdir / ".polymix-node-check"
    token = secrets.token_hex(16)
    marker.write_text(token, encoding="utf-8")
    nodes = [node for node in ray.nodes() if node["Alive"] and (node["Resources"].get("CPU") or node["Resources"].get("GPU"))]
    sees = ray.remote(num_cpus=0)(_sees)
    pending = {f"{node['NodeManagerAddress']} (node {node['NodeID'][:8]})": sees.options(
        scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)).remote(
        str(marker), token, [str(path) for path in shared]) for node in nodes}
    blind = {name: missing for name, missing in zip(pending, ray.get(list(pending.values()))) if missing}
    marker.unlink(missing_ok=True)
    if blind:
        lines = "; ".join(f"{name}: {', '.join(missing)}" for name, missing in blind.items())
        raise ConfigError(f"{len(blind)} of {len(nodes)} Ray node(s) cannot see paths every trial needs: {lines}. Put the "
                          "work dir (--workdir) and the study's data and model paths on storage every node mounts at the "
                          "same path (e.g. NFS), or run from such a directory")


LOCAL_RAY_RECORD = "local_ray.json"  # in the work dir: the processes of the local Ray instance its last run started


def record_local_instance(workdir: Path) -> None:
    """The processes the local instance just started (pid and start time, so a reused pid is never mistaken for one),
    for :func:`end_leftover_instance`."""
    driver = psutil.Process()
    processes = [{"pid": p.pid, "started": p.create_time()} for p in driver.children(recursive=True)]
    record = {"driver": {"pid": driver.pid, "started": driver.create_time()}, "processes": processes}
    (workdir / LOCAL_RAY_RECORD).write_text(json.dumps(record), encoding="utf-8")


def _same_process(entry: dict) -> psutil.Process | None:
    try:
        process = psutil.Process(entry["pid"])
        return process if abs(process.create_time() - entry["started"]) < 0.01 else None
    except (psutil.Error, KeyError, TypeError):
        return None


def end_leftover_instance(workdir: Path) -> None:
    """End what a killed run left of its local Ray instance, saying so.

    A SIGKILLed `polymix run` cannot shut its instance down. Ray's GCS and raylet die with it (they share the driver's
    fate on Linux), but its dashboard agent and runtime-env agent lived on for a minute or more here, holding their
    ports (a new instance's agent then fails to bind). The next run in the same work dir ends the recorded processes
    still alive, unless the run that started them is itself still running."""
    path = workdir / LOCAL_RAY_RECORD
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if not isinstance(record, dict) or _same_process(record.get("driver") or {}) is not None:
        return  # unreadable, or that run is still going: its instance is not left over
    left = [p for p in map(_same_process, record.get("processes") or []) if p is not None]
    names = []
    for process in left:
        try:
            names.append(process.name())
            process.terminate()
        except psutil.Error:
            continue
    _, alive = psutil.wait_procs(left, timeout=5)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            continue
    if names:
        print(f"[polymix] ended {len(names)} process(es) a killed earlier run left of its local Ray instance: "
              f"{', '.join(sorted(set(names)))}", flush=True)
    path.unlink(missing_ok=True)


def trial_resources(trials: list[TrialSpec], cluster: dict) -> tuple[Callable[[dict], PlacementGroupFactory], int, str | None]:
    """Tune's per-trial resource request, a bound on concurrent trials, and a note for the user (or None).

    CPU trials: the concurrency bound is what fits (else trial functions hold CPUs their workers wait for); a trial
    that trains in its own process holds its worker's CPUs itself.
    GPU trials: admission by GPU tickets when the cluster declares them; otherwise a conservative bound.
    """
    def request(config: dict) -> PlacementGroupFactory:
        # A grid trial carries its whole spec; a searched mixture carries the spec it completes (ratio_search).
        spec = TrialSpec.model_validate(config["trial"]["spec"] if "trial" in config else config["base"])
        gpus = spec.resources.gpus
        tickets = {GPU_TICKET: gpus} if gpus and cluster.get(GPU_TICKET) else {}
        return PlacementGroupFactory([{"CPU": trial_cpus(spec), **tickets}])

    widest = max(t.resources.gpus for t in trials)
    if not widest:
        per_trial = max(trial_cpus(t) + (0 if t.in_trial_process else t.resources.workers * t.resources.cpus_per_worker)
                        for t in trials)
        return request, int(cluster.get("CPU", 1) // per_trial), None
    gpus = cluster.get("GPU", 0)
    if cluster.get(GPU_TICKET):
        narrowest = min(t.resources.gpus for t in trials if t.resources.gpus)
        return request, int(gpus // narrowest), None
    note = (f"the cluster declares no {GPU_TICKET!r} resource: at most {int(gpus // widest)} trials at a time. Declare "
            f"{GPU_TICKET} = the node's GPU count on every GPU node (see cluster.yaml) to pack trials of different sizes")
    return request, int(gpus // widest), note


def trial_cpus(spec: TrialSpec) -> float:
    """CPUs the Tune trial itself holds: its worker's when it trains in its own process, else one for the function
    that drives the Ray Train run (whose workers get placement groups of their own)."""
    return max(1.0, spec.resources.cpus_per_worker) if spec.in_trial_process else 1.0


def concurrency(study: Study, fits: int, trials: int) -> int:
    """Trials at a time: what fits the cluster, capped by ``resources.max_concurrent_trials`` and by the trials."""
    return max(1, min(fits, study.resources.max_concurrent_trials or fits, trials))


def run_config(name: str, workdir: Path, callbacks: list) -> tune.RunConfig:
    """Where a Tuner keeps its state (the work dir, which every node sees), and its failure handling: a trial whose
    node is lost, or whose process dies, is tried once more on any node, where it resumes from its last checkpoint
    in the same MLflow run (search/runs/trial.py); a trial that fails on its own fails once more, cheaply."""
    return tune.RunConfig(name=name, storage_path=str(workdir / "ray_results"), verbose=0, callbacks=callbacks,
                          failure_config=tune.FailureConfig(max_failures=1))


def tune_config(max_concurrent: int) -> tune.TuneConfig:
    """The Tune settings every sweep (and the scheduling benchmark) runs with.

    Trial actors are reused: a finished trial's process (with torch and transformers already imported)
    takes the next trial of the same resource shape, instead of a new process per trial, which costs
    seconds of start-up each and, on a small head node, delays admission (measured: 40 two-second trials,
    8 at a time, 35.3 s without reuse, 10.6 s with it; ideal 10 s).
    """
    return tune.TuneConfig(max_concurrent_trials=max_concurrent, reuse_actors=True)
