"""Does Climb's gain interval cover the truth when a run's languages share their noise?

Simulated searches on a known loss law (the same mixtures each time, new noise): each fits the law, takes the run it
rates best and its optimum, and builds the interval of the optimum's gain over that run
(search/mixtures/climb_uncertainty.py). Scored against the true law: how often the interval covers the true gain of
those two mixtures, and how often the rule would recommend the optimum (interval above 0) when it does not truly beat
the run (a false claim). Two noise models for the bootstrap's draws: the covariance estimated from the residuals (as
polymix does) and independent noise across languages (what the earlier σ‖w‖₂ threshold assumed).

    python benchmarks/gain_interval.py --languages 2 --searches 60 --draws 100 --correlation 0.9
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from search.mixtures import climb_uncertainty
from search.mixtures.climb import LossLaw
from search.mixtures.climb_loop import ClimbSearch


def law(rng: np.random.Generator, n: int) -> LossLaw:
    transfer = np.eye(n) + (1 - np.eye(n)) * rng.uniform(0, 0.5, (n, n))
    return LossLaw(tuple(f"l{i}" for i in range(n)), transfer, rng.uniform(0.5, 1.5, n), rng.uniform(2, 8, n),
                   rng.uniform(0.2, 0.7, n), budget=10000.0, offset=10.0)


def independent(estimate):
    """The same noise estimate with the correlations between languages dropped."""
    def covariance(law, ratios, losses):
        full, how = estimate(law, ratios, losses)
        return np.diag(np.diag(full)), f"independent ({how})"
    return covariance


def score(truth: LossLaw, design: np.ndarray, noise: np.ndarray, searches: int, draws: int) -> dict[str, float]:
    n, weights = len(truth.languages), np.full(len(truth.languages), 1 / len(truth.languages))
    covered = claims = false_claims = intervals = 0
    for search_seed in range(searches):
        rng = np.random.default_rng(1000 + search_seed)
        losses = truth.losses(design) + rng.multivariate_normal(np.zeros(n), noise, len(design))
        search = ClimbSearch(truth.languages, weights, truth.budget, truth.offset, seed=search_seed,
                             gain_draws=draws, previous=(design, losses))
        interval = search.gain_interval()
        if interval is None:  # the law's optimum is a run: no gain claimed
            continue
        true_gain = truth.objective(search.best_run(), weights) - truth.objective(search.fitted_optimum().ratios, weights)
        intervals += 1
        covered += interval.low <= true_gain <= interval.high
        claims += interval.low > 0
        false_claims += interval.low > 0 and true_gain <= 0
    return {"intervals": intervals, "coverage": covered / max(intervals, 1), "claims": claims,
            "false_claims": false_claims}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--languages", type=int, default=2)
    parser.add_argument("--runs", type=int, default=8, help="mixtures in the design (Dirichlet(1) draws)")
    parser.add_argument("--searches", type=int, default=60)
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--sigma", type=float, default=0.02, help="noise of one measured loss")
    parser.add_argument("--correlation", type=float, default=0.9, help="between two languages' noise in one run")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n = args.languages
    truth = law(np.random.default_rng(args.seed), n)
    design = np.random.default_rng(args.seed + 1).dirichlet(np.ones(n), size=args.runs)
    noise = args.sigma**2 * (args.correlation * np.ones((n, n)) + (1 - args.correlation) * np.eye(n))
    print(f"{n} languages, {args.runs} runs, σ = {args.sigma}, correlation {args.correlation}, {args.searches} "
          f"simulated searches, {args.draws} refits per interval")
    estimated = climb_uncertainty.noise_covariance
    for name, model in (("estimated covariance", estimated), ("independent languages", independent(estimated))):
        climb_uncertainty.noise_covariance = model
        start = time.perf_counter()
        result = score(truth, design, noise, args.searches, args.draws)
        print(f"{name:>22}: {result['intervals']} intervals, coverage {result['coverage']:.2f}; optimum claimed in "
              f"{result['claims']}, falsely in {result['false_claims']} ({time.perf_counter() - start:.0f} s)")
    climb_uncertainty.noise_covariance = estimated


if __name__ == "__main__":
    main()
