"""Scheduling benchmark: does polymix's trial order fill a GPU cluster?

A local Ray instance declares G logical GPUs (and as many GPU tickets). Every training run of a real study
becomes a Tune trial that sleeps for its planned wall time (`polymix plan`'s cost model), scaled so that the
lower bound lasts ``--seconds``. The trials are admitted by the same per-trial resource requests as
`polymix run` (search/runs/sweep.py); only the order differs:
- "study order": the trials as the study file lists them (what Tune does with the grid as given);
- "longest first": polymix's order.
Printed: measured makespan / lower bound, where lower bound = max(total GPU-time / G, longest run), next to
the planner's own replay of the same admission rule.

    python benchmarks/scheduling.py configs/english_not_all.yaml --gpus 64 --seconds 600
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import ray
from ray import tune

from search.runs.cluster import GPU_TICKET, trial_resources, tune_config
from search.runs.designs import expand_trials
from search.runs.planner import estimate, longest_first, lower_bound, simulate_makespan
from search.study import load_study


def sleeping_trial(config: dict) -> None:
    started = time.time()
    time.sleep(config["trial"]["seconds"])
    tune.report({"started": started, "ended": time.time()})


def run_order(costs, gpus: int, scale: float, name: str, storage: str) -> float:
    """Run the trials in the given order through Tune; return the makespan in seconds (first start → last end)."""
    trials = [c.trial for c in costs]
    request, fits, _ = trial_resources(trials, ray.cluster_resources())
    param_space = {"trial": tune.grid_search([
        {"spec": c.trial.model_dump(mode="json"), "seconds": c.hours * scale} for c in costs
    ])}
    tuner = tune.Tuner(
        tune.with_resources(sleeping_trial, request),
        param_space=param_space,
        tune_config=tune_config(min(fits, len(trials))),
        run_config=tune.RunConfig(name=name, storage_path=storage, verbose=0),
    )
    results = tuner.fit()
    if results.errors:
        raise RuntimeError(f"{len(results.errors)} trials failed: {results.errors[0]}")
    frames = results.get_dataframe()
    return float(frames["ended"].max() - frames["started"].min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", nargs="?", default="configs/english_not_all.yaml")
    parser.add_argument("--gpus", type=int, default=64, help="logical GPUs of the simulated cluster")
    parser.add_argument("--seconds", type=float, default=600, help="wall seconds the lower bound is scaled to")
    args = parser.parse_args()

    study = load_study(args.study)
    costs = [c for c in estimate(study, expand_trials(study)) if not c.trial.baseline]
    bound_hours = lower_bound(costs, args.gpus)
    scale = args.seconds / bound_hours  # wall seconds per planned hour
    orders = {"study order": costs, "longest first": longest_first(costs)}

    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
    ray.init(num_cpus=args.gpus + 8, num_gpus=args.gpus, resources={GPU_TICKET: args.gpus},
             include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    storage = tempfile.mkdtemp(prefix="polymix-sched-")
    print(f"{study.name}: {len(costs)} training runs on {args.gpus} GPUs; lower bound {bound_hours:.2f} planned hours "
          f"= {args.seconds:.0f} s here ({scale:.1f} s per planned hour)", flush=True)
    rows = []
    for label, ordered in orders.items():
        measured = run_order(ordered, args.gpus, scale, label.replace(" ", "-"), storage)
        replayed = simulate_makespan(ordered, args.gpus) * scale
        rows.append((label, measured, replayed))
        print(f"  {label}: measured {measured:.1f} s", flush=True)
    ray.shutdown()

    print(f"\n{'order':<15} {'measured makespan':>18} {'measured / bound':>17} {'replayed / bound':>17}")
    for label, measured, replayed in rows:
        print(f"{label:<15} {measured:>16.1f} s {measured / args.seconds:>17.3f} {replayed / args.seconds:>17.3f}")


if __name__ == "__main__":
    main()
