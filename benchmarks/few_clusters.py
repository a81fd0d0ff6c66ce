"""Do the report's intervals hold at the study's real cluster count (5 models in 2 families)?

Generated studies with a known truth (tests/evaluation/test_inference_units.py's five_model_study: each model has
its own level on all its runs and its own effect per language, each run its own effect on all its languages). Per
study it fits the pooled regression as the report does (clustered by model; size and family from the models alone)
and as it did before (clustered by run, the same rows), and the bilingual gains' mean and median over run pairs. It
prints how often each 95% interval covers the truth, with the Monte Carlo standard error of a 95% rate.

    python -m benchmarks.few_clusters --studies 500   (from the repository root: it reuses the tests' generator)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import statsmodels.api as sm

from evaluation.analysis import bilingual_gains, gain_summary, pooled_regression, regression_design
from tests.evaluation.test_inference_units import ADDED, TRUE, bilingual_study, five_model_study


def regression_coverage(studies: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    hits = {"clustered by model (now)": dict.fromkeys(TRUE, 0), "clustered by run (before)": dict.fromkeys(TRUE, 0)}
    for study in range(studies):
        table = five_model_study(rng)
        now = pooled_regression(table, seed=study).coefficients.set_index("term")
        design = sm.add_constant(regression_design(table)[list(TRUE)])
        before = sm.OLS(table["accuracy"].to_numpy(), design).fit(
            cov_type="cluster", cov_kwds={"groups": pd.factorize(table["run_id"])[0]}, use_t=True).conf_int()
        for term, truth in TRUE.items():
            hits["clustered by model (now)"][term] += bool(now.loc[term, "low"] <= truth <= now.loc[term, "high"])
            hits["clustered by run (before)"][term] += bool(before.loc[term, 0] <= truth <= before.loc[term, 1])
    return pd.DataFrame(hits).T / studies


def gains_coverage(studies: int, models: int) -> dict[str, float]:
    """The bilingual gains' transfer setting at ``models`` models (its truth 0.02): the mean's t interval clustered
    by model (t with models − 1 df) and the median's cluster bootstrap (percentile, resampling models)."""
    rng = np.random.default_rng(1)
    mean_hits = median_hits = medians = 0
    for _ in range(studies):
        summary = gain_summary(bilingual_gains(bilingual_study(rng, models=models))).set_index("setting")
        transfer = summary.loc["transfer"]
        mean_hits += bool(transfer["mean_low"] <= 0.02 <= transfer["mean_high"])
        if not np.isnan(transfer["median_low"]):
            medians += 1
            median_hits += bool(transfer["median_low"] <= 0.02 <= transfer["median_high"])
    return {"mean, t clustered by model": mean_hits / studies,
            "median, cluster bootstrap": median_hits / medians if medians else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=500)
    args = parser.parse_args()
    started = time.time()
    table = regression_coverage(args.studies)
    print(f"Pooled regression, 5 models, {args.studies} studies (Monte Carlo SE of a 95% rate: "
          f"{np.sqrt(0.95 * 0.05 / args.studies):.3f}); share of 95% intervals covering the true coefficient:")
    print(table.round(3).to_string())
    for models in (5, 8):
        rates = gains_coverage(args.studies, models)
        print(f"Bilingual gains (transfer, {len(ADDED)} pairs per model), {models} models: "
              + ", ".join(f"{name} {rate:.3f}" for name, rate in rates.items()))
    print(f"({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
