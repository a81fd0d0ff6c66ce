"""Ratio search on real training runs: each strategy against a ground-truth grid of real SFT runs.

On the embedded default (tiny-s, the math sample data, 3 languages: en, es, ja; objective Σ w_i · validation loss_i
at each run's kept checkpoint, by default w = 0.1 / 0.2 / 0.7: a study that cares most about Japanese; with equal
weights the three languages are symmetric and the uniform mixture is the optimum, measured), everything through
`polymix climb` and its own searchers:

1. the ground truth: strategy ``grid``, every mixture of the simplex in steps of 1/divisions (6: 28 mixtures, the
   uniform one among them), seed 0;
2. the noise floor: the coarse lattice (steps of 1/2: 6 mixtures, all on the fine one) again with seeds 1 and 2;
   the pooled standard deviation of a run's objective over the three seeds (12 degrees of freedom);
3. each strategy in a work dir of its own (no run of another is reused): Climb, RegMix-style and Optuna TPE with
   ``--runs`` runs each; uniform and temperature sampling (T = 3.3) choose without a run (the sample data has the
   same 1,200 rows in every language, so temperature sampling is the uniform mixture; the grid measured it).

Printed per strategy: its recommendation, the objective measured for it, the regret (measured − best grid) /
(uniform − best grid) (0: as good as the best grid mixture, 1: no better than uniform; measured on one seed, so
within ± noise / gap), runs used and wall time; then the noise floor. Default budget n + 5 = 8 runs: Climb's
initial design alone is n + 3 (the law's n² + 2n parameters and one run more), then one fitted optimum and the
confirmation of its recommendation; 2n = 6 would leave it no run after the initial design.

    .venv/bin/python benchmarks/search_real.py [--runs 8] [--divisions 6] [--total 600] [--weights 0.1,0.2,0.7] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

from mlflow.tracking import MlflowClient  # noqa: E402

from benchmarks.polymix_cli import run_polymix  # noqa: E402
from search.mixtures.allocation import temperature  # noqa: E402
from training.sample_data import SAMPLE_ROWS  # noqa: E402

LANGUAGES = ["en", "es", "ja"]
METRIC = "val/objective"


def study(name: str, strategy: str, runs: int, total: int, weights: dict[str, float], divisions: int | None = None) -> dict:
    search = {"strategy": strategy, "languages": LANGUAGES, "total": total, "runs": runs, "weights": weights}
    if divisions:
        search["divisions"] = divisions
    return {
        "name": name, "seed": 0, "tasks": ["math"], "models": [{"name": "tiny-s", "tiny": "s"}], "search": search,
        "train": {"epochs": 2, "lr": 3.0e-3, "warmup_ratio": 0.05, "global_batch": 16, "micro_batch": 8,
                  "max_seq_len": 160, "validation_examples": 120},
        "eval": {"languages": LANGUAGES, "test_examples": 4, "max_new_tokens": {"math": 64}},
        "resources": {"local_cpus": 2},
    }


def polymix_climb(workdir: Path, config: dict, *overrides: str) -> float:
    """`polymix climb` on ``config`` in ``workdir``; its wall time in seconds."""
    started = time.time()
    run_polymix(workdir, "climb", config, *overrides)
    return time.time() - started


def summaries(workdir: Path, experiment: str) -> list[dict]:
    """recommendation.json of every search of the experiment, oldest first."""
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    parents = client.search_runs([experiment_id], "tags.`polymix.kind` = 'search'", order_by=["attributes.start_time ASC"])
    out = []
    for parent in parents:
        local = client.download_artifacts(parent.info.run_id, "search/tiny-s-math/recommendation.json",
                                          tempfile.mkdtemp(dir=workdir))
        out.append(json.loads(Path(local).read_text()))
    return out


def key(counts: dict[str, int]) -> tuple[int, ...]:
    return tuple(counts.get(lang, 0) for lang in LANGUAGES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=len(LANGUAGES) + 5, help="runs per adaptive strategy")
    parser.add_argument("--divisions", type=int, default=6, help="the ground-truth grid's step is 1/divisions")
    parser.add_argument("--total", type=int, default=600, help="training examples per run")
    parser.add_argument("--weights", default="0.1,0.2,0.7", help=f"importance weights of {', '.join(LANGUAGES)}")
    parser.add_argument("--workdir", type=Path, help="keep the work dirs here (default: a temporary folder, removed)")
    args = parser.parse_args()
    weights = dict(zip(LANGUAGES, map(float, args.weights.split(","))))
    root = args.workdir or Path(tempfile.mkdtemp(prefix="pmx-search-real-"))
    started = time.time()

    # 1-2. The ground truth and the noise floor, in one work dir (the seed-0 runs of the coarse lattice are reused).
    truth_dir = root / "grid"
    seconds = {"grid": polymix_climb(truth_dir, study("real-grid", "grid", 2, args.total, weights, args.divisions))}
    print(f"ground-truth grid: {seconds['grid']:.0f} s", flush=True)
    for seed in (1, 2):
        polymix_climb(truth_dir, study("real-grid", "grid", 2, args.total, weights, args.divisions),
                      f"seed={seed}", "search.divisions=2")
    print(f"noise repeats: {time.time() - started:.0f} s so far", flush=True)
    grid, *repeats = summaries(truth_dir, "real-grid")
    truth = {key(run["counts"]): run[METRIC] for run in grid["runs"]}
    uniform = key({lang: args.total // len(LANGUAGES) for lang in LANGUAGES})
    best = min(truth, key=truth.get)
    gap = truth[uniform] - truth[best]
    by_point: dict[tuple, list[float]] = {}
    for summary in [grid, *repeats]:
        for run in summary["runs"]:
            if all(count * 2 % args.total == 0 for count in run["counts"].values()):  # on the coarse lattice
                by_point.setdefault(key(run["counts"]), []).append(run[METRIC])
    repeated = [values for values in by_point.values() if len(values) > 1]
    noise = float(np.sqrt(np.mean([np.var(values, ddof=1) for values in repeated])))
    dof = sum(len(values) - 1 for values in repeated)

    # 3. The strategies, each from scratch.
    rows = []
    for strategy in ("climb", "regmix", "optuna"):
        workdir = root / strategy
        seconds[strategy] = polymix_climb(workdir, study(f"real-{strategy}", strategy, args.runs, args.total, weights))
        [summary] = summaries(workdir, f"real-{strategy}")
        rec = summary["recommended"]
        # (no measurement when the budget ran out before the recommendation's confirmation run)
        measured = (rec.get("measured") or {}).get(METRIC)
        rows.append((strategy, key(rec["counts"]), measured, summary["runs_finished"], seconds[strategy]))
        print(f"{strategy}: {seconds[strategy]:.0f} s", flush=True)
    available = {lang: SAMPLE_ROWS["train"] for lang in LANGUAGES}
    by_temperature = key(temperature(available, args.total))
    for name, point in (("uniform", uniform), ("temperature 3.3", by_temperature)):
        if point in truth:
            rows.append((name, point, truth[point], 0, 0.0))

    print(f"\nreal SFT runs: tiny-s, math sample data, {args.total} examples per run, objective Σ w·validation loss "
          f"(120 rows per language) at each run's kept checkpoint, w = " + ", ".join(f"{k} {v:g}" for k, v in weights.items()))
    print(f"ground truth: {len(truth)} grid mixtures (steps of 1/{args.divisions}) in {seconds['grid']:.0f} s; best "
          f"{'/'.join(map(str, best))} ({truth[best]:.4f}), uniform {truth[uniform]:.4f}, gap {gap:.4f}")
    print(f"noise floor: σ = {noise:.4f} per run's objective (pooled over {len(repeated)} mixtures × 3 seeds, {dof} "
          f"degrees of freedom); the uniform→best gap is {gap / noise:.1f} σ")
    ranked = sorted(truth, key=truth.get)
    print("grid, best first: " + ", ".join(f"{'/'.join(map(str, point))} {truth[point]:.4f}" for point in ranked[:6])
          + f", ... worst {'/'.join(map(str, ranked[-1]))} {truth[ranked[-1]]:.4f}")
    print(f"\n{'strategy':<16} {'recommended':>12} {'measured':>9} {'grid value':>10} {'regret':>7} {'runs':>5} {'seconds':>8}")
    for name, point, measured, runs, wall in rows:
        on_grid = f"{truth[point]:.4f}" if point in truth else "—"
        if measured is None:
            print(f"{name:<16} {'/'.join(map(str, point)):>12} {'—':>9} {on_grid:>10} {'—':>7} {runs:>5} {wall:>8.0f}")
            continue
        regret = (measured - truth[best]) / gap if gap > 0 else float("nan")  # (nan: uniform is the best)
        print(f"{name:<16} {'/'.join(map(str, point)):>12} {measured:>9.4f} {on_grid:>10} {regret:>7.2f} {runs:>5} {wall:>8.0f}")
    spread = f"± {noise / gap:.2f}" if gap > 0 else "undefined (uniform is the best grid mixture)"
    print(f"\nregret = (measured − best grid) / (uniform − best grid), on one seed: {spread} from noise alone; "
          f"total {time.time() - started:.0f} s; work dirs in {root}")


if __name__ == "__main__":
    main()
