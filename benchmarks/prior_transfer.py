"""Which reading of Climb's T is transfer, when the base already knows the languages?

Simulated laws with a known T and a known prior p (examples of its own language the base's knowledge is worth): each
instance draws a 3-language law, 15 random mixtures and their losses (noise σ per loss), fits the law with d0 = 1 as
polymix does, and reads T two ways:
- as fitted (d0 = 1): transfer and the prior together, (T + c)/(1 + c) with c = (p − 1)/(D + 1);
- with the prior taken out by the base's own losses (measured with the same noise), the law's zero-data point
  (search/mixtures/climb.py, separate_prior).
It prints the mean absolute error of T's off-diagonal entries against the truth, and the recovered prior against p.
A last row puts the base's loss above the law's curve (a cost of learning the task's format that no fine-tuned run
shows), which the separation does not model.

    python benchmarks/prior_transfer.py --instances 10
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from search.mixtures.climb import LossLaw, fit_loss_law, separate_prior

BUDGET = 1000.0


def law(rng: np.random.Generator, prior: float) -> LossLaw:
    n = 3
    transfer = np.eye(n) + (1 - np.eye(n)) * rng.uniform(0, 0.5, (n, n))
    return LossLaw(("a", "b", "c"), transfer, rng.uniform(0.5, 1.5, n), rng.uniform(2, 8, n), rng.uniform(0.2, 0.7, n),
                   budget=BUDGET, offset=prior)


def errors(prior: float, sigma: float, format_cost: float, instances: int) -> tuple[float, float, float, int]:
    fitted_error, separated_error, prior_ratio, undefined = [], [], [], 0
    off = ~np.eye(3, dtype=bool)
    for seed in range(instances):
        rng = np.random.default_rng(seed)
        truth = law(rng, prior)
        ratios = rng.dirichlet(np.ones(3), size=15)
        losses = truth.losses(ratios) + rng.normal(0, sigma, (15, 3))
        fitted = fit_loss_law(truth.languages, ratios, losses, BUDGET, offset=1.0)
        base = truth.floor + truth.scale * prior ** -truth.exponent + format_cost + rng.normal(0, sigma, 3)
        split = separate_prior(fitted, base)
        fitted_error.append(np.abs(fitted.transfer - truth.transfer)[off].mean())
        if np.isnan(split.transfer).any():
            undefined += 1
            continue
        separated_error.append(np.abs(split.transfer - truth.transfer)[off].mean())
        prior_ratio.append(np.median(split.prior / prior))
    return (float(np.mean(fitted_error)), float(np.mean(separated_error)) if separated_error else float("nan"),
            float(np.median(prior_ratio)) if prior_ratio else float("nan"), undefined)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10)
    args = parser.parse_args()
    started = time.time()
    print(f"3 languages, D = {BUDGET:.0f}, 15 runs, {args.instances} laws per row; error = mean |T̂ − T| off the diagonal")
    print("prior p | σ per loss | base's loss | error, d0 = 1 fit | error, prior taken out | recovered p / p | no zero-data point")
    rows = [(1.0, 0.0, 0.0), (100.0, 0.0, 0.0), (1000.0, 0.0, 0.0), (3000.0, 0.0, 0.0),
            (1.0, 0.003, 0.0), (100.0, 0.003, 0.0), (1000.0, 0.003, 0.0), (3000.0, 0.003, 0.0), (1000.0, 0.003, 0.05)]
    for prior, sigma, cost in rows:
        fitted, separated, ratio, undefined = errors(prior, sigma, cost, args.instances)
        where = "on the curve" if cost == 0 else f"+{cost} above it"
        print(f"{prior:7.0f} | {sigma:10.3f} | {where:>11} | {fitted:17.3f} | {separated:22.3f} | {ratio:15.2f} | "
              f"{undefined}/{args.instances}")
    print(f"({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
