"""evaluation/stats.py against reference calls (scipy, statsmodels) and textbook values, on fixed inputs."""

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from evaluation.stats import bootstrap_difference, bootstrap_interval, t_test, wilson_interval, win_rate

BILINGUAL = np.array([0.412, 0.388, 0.540, 0.296, 0.604, 0.352, 0.476, 0.520, 0.308, 0.444])
ENGLISH_ONLY = np.array([0.380, 0.392, 0.472, 0.240, 0.588, 0.300, 0.480, 0.456, 0.276, 0.400])


@pytest.mark.parametrize("successes, n", [(0, 250), (8, 10), (103, 250), (250, 250), (1, 4)])
def test_wilson_interval_equals_statsmodels_and_the_closed_form(successes, n):
    low, high = wilson_interval(successes, n)
    reference = proportion_confint(successes, n, alpha=0.05, method="wilson")
    assert low == pytest.approx(reference[0], abs=1e-9) and high == pytest.approx(reference[1], abs=1e-9)
    # Wilson's formula written out: centre ± half-width with z = Φ⁻¹(0.975)
    z, p = stats.norm.ppf(0.975), successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert low == pytest.approx(max(centre - half, 0.0), abs=1e-9) and high == pytest.approx(min(centre + half, 1.0), abs=1e-9)


def test_wilson_textbook_value_and_bad_n():
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)  # Newcombe (1998), 8/10
    with pytest.raises(ValueError, match="n=0"):
        wilson_interval(0, 0)


def test_bootstrap_intervals_equal_scipy_with_the_same_seed():
    differences = BILINGUAL - ENGLISH_ONLY
    reference = stats.bootstrap((differences,), np.median, confidence_level=0.95, n_resamples=9999,
                                method="percentile", rng=np.random.default_rng(3)).confidence_interval
    assert bootstrap_interval(differences, np.median, seed=3) == pytest.approx((reference.low, reference.high), abs=1e-9)
    assert bootstrap_difference(BILINGUAL, ENGLISH_ONLY, paired=True, statistic=np.median, seed=3) == pytest.approx(
        (reference.low, reference.high), abs=1e-9)
    unpaired = stats.bootstrap((BILINGUAL, ENGLISH_ONLY), lambda x, y, axis=-1: np.mean(x, axis=axis) - np.mean(y, axis=axis),
                               confidence_level=0.95, n_resamples=9999, method="percentile",
                               rng=np.random.default_rng(0)).confidence_interval
    low, high = bootstrap_difference(BILINGUAL, ENGLISH_ONLY, paired=False)
    assert (low, high) == pytest.approx((unpaired.low, unpaired.high), abs=1e-9)
    assert low < np.mean(BILINGUAL) - np.mean(ENGLISH_ONLY) < high


def test_bootstrap_without_spread_is_the_value_itself():
    assert bootstrap_interval([0.25, 0.25, 0.25]) == (0.25, 0.25)


def test_t_tests_equal_scipy_and_the_paired_formula():
    paired = t_test(BILINGUAL, ENGLISH_ONLY, paired=True)
    reference = stats.ttest_rel(BILINGUAL, ENGLISH_ONLY)
    assert paired.statistic == pytest.approx(reference.statistic, abs=1e-9)
    assert paired.p_value == pytest.approx(reference.pvalue, abs=1e-9) and paired.df == 9
    d = BILINGUAL - ENGLISH_ONLY  # paired t = mean(d) / (sd(d) / √n), two-sided p from t with n − 1 df
    t = d.mean() / (d.std(ddof=1) / math.sqrt(len(d)))
    assert paired.statistic == pytest.approx(t, abs=1e-9)
    assert paired.p_value == pytest.approx(2 * stats.t.sf(abs(t), len(d) - 1), abs=1e-9)
    welch = t_test(BILINGUAL, ENGLISH_ONLY, paired=False)
    reference = stats.ttest_ind(BILINGUAL, ENGLISH_ONLY, equal_var=False)
    assert (welch.statistic, welch.p_value) == pytest.approx((reference.statistic, reference.pvalue), abs=1e-9)
    assert welch.p_value > paired.p_value  # pairing removes the between-language variance


def test_win_rate_counts_wins_and_ties_with_a_wilson_interval():
    result = win_rate(BILINGUAL - ENGLISH_ONLY)
    assert (result.wins, result.ties, result.n) == (8, 0, 10) and result.rate == 0.8
    assert (result.low, result.high) == pytest.approx(wilson_interval(8, 10), abs=1e-12)
    assert win_rate([0.1, 0.0, -0.2, 0.0]).ties == 2
