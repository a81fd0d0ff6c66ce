"""The statistics of the paper's analysis (SPEC §1a), as thin wrappers over scipy and statsmodels.

Accuracies are proportions of test examples, so their intervals are Wilson score intervals (well behaved near 0
and 1, where small models' accuracies sit); differences get bootstrap intervals; t-tests are two-sided, paired
when the runs pair up (the same model, task and evaluation language with and without a training language).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

CONFIDENCE = 0.95


def wilson_interval(successes: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n``."""
    if n <= 0:
        raise ValueError(f"n={n}: a proportion needs at least one trial")
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    return float(low), float(high)


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


def bootstrap_difference(a, b, paired: bool, statistic=np.mean, confidence: float = CONFIDENCE,
                         n_resamples: int = 9999, seed: int = 0) -> tuple[float, float]:
    """Bootstrap interval of ``statistic(a) − statistic(b)``; paired samples resample pairs together."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if paired:
        return bootstrap_interval(a - b, statistic, confidence, n_resamples, seed)

    def difference(x, y, axis=-1):
        return statistic(x, axis=axis) - statistic(y, axis=axis)

    result = stats.bootstrap((a, b), difference, confidence_level=confidence, n_resamples=n_resamples,
                             method="percentile", paired=False, rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


@dataclass(frozen=True)
class TTest:
    statistic: float
    p_value: float
    df: float


def t_test(a, b, paired: bool) -> TTest:
    """Two-sided t-test of equal means: paired (``ttest_rel``) or Welch's (``ttest_ind``, unequal variances)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    result = stats.ttest_rel(a, b) if paired else stats.ttest_ind(a, b, equal_var=False)
    return TTest(float(result.statistic), float(result.pvalue), float(result.df))


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
