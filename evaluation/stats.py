"""The statistics of the paper's analysis (docs/studies.md §1a), as thin wrappers over scipy and statsmodels.

Accuracies are proportions of test examples, so their intervals are Wilson score intervals (well behaved near 0
and 1, where small models' accuracies sit). Comparisons between runs are made over the units that are independent:
run pairs, not the languages of one pair, whose accuracies come from the same two trainings. Their means get t
intervals and two-sided t-tests with standard errors clustered by what the pairs share (``clustered_mean``), their
medians cluster-bootstrap intervals (``cluster_bootstrap``); every result says how many units it rests on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

CONFIDENCE = 0.95


def wilson_interval(successes: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n``."""
    if n <= 0:
        raise ValueError(f"n={n}: a proportion needs at least one trial")
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    return float(low), float(high)


def mean_interval(mean: float, sd: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """t interval of a mean of ``n`` continuous scores in [0, 1] (ROUGE-L, chrF) with sample standard deviation
    ``sd``, clipped to [0, 1]; NaN where ``sd`` is unknown or n < 2."""
    if n < 2 or not np.isfinite(sd):
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n)
    return float(max(mean - half, 0.0)), float(min(mean + half, 1.0))


def bootstrap_interval(values, statistic=np.median, confidence: float = CONFIDENCE, n_resamples: int = 9999,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over ``values`` (one sample, e.g. paired differences)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2 or np.all(values == values[0]):  # no spread: every resample gives the same statistic
        value = float(statistic(values)) if len(values) else float("nan")
        return value, value
    result = stats.bootstrap((values,), statistic, confidence_level=confidence, n_resamples=n_resamples,
                             method="percentile", rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


@dataclass(frozen=True)
class WinRate:
    wins: int
    ties: int
    n: int
    rate: float
    low: float
    high: float


def win_rate(differences, confidence: float = CONFIDENCE) -> WinRate:
    """Share of comparisons won (difference > 0) with its Wilson interval; ties count as not won."""
    differences = np.asarray(differences, dtype=float)
    n = len(differences)
    wins, ties = int(np.sum(differences > 0)), int(np.sum(differences == 0))
    low, high = wilson_interval(wins, n, confidence)
    return WinRate(wins, ties, n, wins / n, low, high)


@dataclass(frozen=True)
class ClusteredMean:
    mean: float
    low: float
    high: float
    p_value: float  # two-sided, of a mean of 0
    n: int  # observations (e.g. run pairs)
    groups: int  # independent clusters the standard error is computed over


def clustered_mean(values, groups, confidence: float = CONFIDENCE) -> ClusteredMean:
    """Mean of ``values`` with a t interval and a two-sided t-test of mean 0, the standard error clustered by
    ``groups`` (statsmodels' cluster-robust covariance, t with groups − 1 degrees of freedom): observations of one
    group are not independent (run pairs that share their English-only run), so they count as one unit of evidence.
    Every observation its own group gives the ordinary one-sample t-test. NaN where it cannot be computed: fewer
    than two groups, or no spread at all."""
    import pandas as pd
    import statsmodels.api as sm

    values = np.asarray(values, dtype=float)
    codes = pd.factorize(pd.Series(list(groups)))[0]
    n, n_groups = len(values), len(set(codes))
    mean = float(values.mean()) if n else float("nan")
    if n < 2 or n_groups < 2 or np.allclose(values, values[0]):
        return ClusteredMean(mean, float("nan"), float("nan"), float("nan"), n, n_groups)
    fit = sm.OLS(values, np.ones((n, 1))).fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
    low, high = fit.conf_int(alpha=1 - confidence)[0]
    return ClusteredMean(mean, float(low), float(high), float(fit.pvalues[0]), n, n_groups)


MIN_BOOTSTRAP_GROUPS = 5  # below this, resampling groups says more about the few groups than about the population


def cluster_bootstrap(values, groups, statistic=np.median, confidence: float = CONFIDENCE, n_resamples: int = 4999,
                      seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` that resamples whole groups (with all their observations),
    so that correlated observations of one group stay together. NaN with fewer than MIN_BOOTSTRAP_GROUPS groups (two
    models' pairs resampled give an interval far narrower than the t interval of the same data)."""
    values = np.asarray(values, dtype=float)
    by_group = {}
    for value, group in zip(values, groups):
        by_group.setdefault(group, []).append(value)
    members = [np.asarray(v) for v in by_group.values()]
    if len(members) < MIN_BOOTSTRAP_GROUPS:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(members), size=(n_resamples, len(members)))
    if len({len(m) for m in members}) == 1:  # groups of one size: every resample at once
        estimates = statistic(np.stack(members)[draws].reshape(n_resamples, -1), axis=1)
    else:
        estimates = np.array([statistic(np.concatenate([members[i] for i in draw])) for draw in draws])
    tail = (1 - confidence) / 2
    return float(np.quantile(estimates, tail)), float(np.quantile(estimates, 1 - tail))


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN, a test that could not be made, is not a member and
    stays NaN): controls the chance of any false rejection in the family at the nominal level, for any dependence."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    present = ~np.isnan(p)
    if present.any():
        adjusted[present] = multipletests(p[present], method="holm")[1]
    return adjusted


def difference_lower_bound(new: tuple[float, float, float], reference: tuple[float, float, float], binary: bool,
                           confidence: float = CONFIDENCE) -> float:
    """One-sided lower confidence bound of the difference new − reference of two independent scores, each given as
    (mean, n, standard deviation of its test scores): Newcombe's hybrid score interval for success rates (sound near 0
    and 1), a normal interval from the two standard deviations for continuous scores. NaN where n or the deviation
    is unknown. A non-inferiority test at margin δ rejects "new is worse by δ or more" when this bound is above −δ."""
    (p_new, n_new, sd_new), (p_ref, n_ref, sd_ref) = new, reference
    if not (n_new > 0 and n_ref > 0):
        return float("nan")
    alpha = 2 * (1 - confidence)  # the two-sided interval whose lower end is the one-sided bound
    if binary:
        def successes(p: float, n: float) -> int:
            return min(max(round(p * n), 0), int(n))

        return float(confint_proportions_2indep(successes(p_new, n_new), int(n_new), successes(p_ref, n_ref), int(n_ref),
                                                method="newcomb", compare="diff", alpha=alpha)[0])
    se = (sd_new ** 2 / n_new + sd_ref ** 2 / n_ref) ** 0.5
    return float(p_new - p_ref - stats.norm.ppf(1 - alpha / 2) * se)
