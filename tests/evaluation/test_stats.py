"""evaluation/stats.py against reference calls (scipy, statsmodels) and textbook values, on fixed inputs."""

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from evaluation.stats import bootstrap_interval, difference_lower_bound, holm, wilson_interval, win_rate

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


def test_bootstrap_without_spread_is_the_value_itself():
    assert bootstrap_interval([0.25, 0.25, 0.25]) == (0.25, 0.25)


def test_win_rate_counts_wins_and_ties_with_a_wilson_interval():
    result = win_rate(BILINGUAL - ENGLISH_ONLY)
    assert (result.wins, result.ties, result.n) == (8, 0, 10) and result.rate == 0.8
    assert (result.low, result.high) == pytest.approx(wilson_interval(8, 10), abs=1e-12)
    assert win_rate([0.1, 0.0, -0.2, 0.0]).ties == 2


def test_a_mean_clustered_by_observation_is_the_one_sample_t_test_and_clusters_widen_it():
    from scipy import stats as scipy_stats

    from evaluation.stats import cluster_bootstrap, clustered_mean

    values = np.array([0.05, 0.11, -0.02, 0.08, 0.04, 0.09, 0.01, 0.07])
    alone = clustered_mean(values, range(len(values)))
    reference = scipy_stats.ttest_1samp(values, 0.0)
    assert alone.p_value == pytest.approx(reference.pvalue, rel=1e-9) and (alone.n, alone.groups) == (8, 8)
    low, high = reference.confidence_interval(0.95)
    assert (alone.low, alone.high) == pytest.approx((low, high), rel=1e-9)
    paired = clustered_mean(values, [0, 0, 1, 1, 2, 2, 3, 3])  # two observations per unit: 4 units of evidence
    assert paired.groups == 4 and paired.p_value > alone.p_value
    assert np.isnan(clustered_mean(values, [0] * 8).p_value)  # one unit: nothing to test
    low, high = cluster_bootstrap(values, [0, 0, 1, 1, 2, 2, 3, 4])
    assert low <= np.median(values) <= high
    assert np.isnan(cluster_bootstrap(values, [0, 0, 1, 1, 2, 2, 3, 3])[0])  # four groups: too few to resample


def test_continuous_scores_get_a_t_interval_that_covers_and_the_report_uses_it():
    """ROUGE-L or chrF means are not success counts: a Wilson interval on round(mean·n) takes the variance of a
    proportion, p(1 − p)/n, ~5× too wide for scores spread like Beta(20, 20); the t interval from the scores' own
    standard deviation covers at its level (the unit: one test row's score)."""
    import pandas as pd

    from evaluation.report import with_intervals
    from evaluation.stats import mean_interval

    rng = np.random.default_rng(0)
    n, covered, t_width, wilson_width = 30, 0, [], []
    for _ in range(2000):
        scores = rng.beta(20, 20, n)
        low, high = mean_interval(scores.mean(), scores.std(ddof=1), n)
        covered += low <= 0.5 <= high
        t_width.append(high - low)
        w_low, w_high = wilson_interval(round(scores.mean() * n), n)
        wilson_width.append(w_high - w_low)
    assert 0.93 <= covered / 2000 <= 0.97
    assert np.mean(wilson_width) > 4 * np.mean(t_width)
    assert all(math.isnan(v) for v in mean_interval(0.5, float("nan"), n))  # a run that logged no sd: no interval

    rows = pd.DataFrame([{"task": "summarization", "accuracy": 0.5, "sd": 0.1, "n": 100.0},
                         {"task": "math", "accuracy": 0.5, "sd": 0.5, "n": 100.0}])
    bounds = with_intervals(rows)
    half = stats.t.ppf(0.975, 99) * 0.1 / 10
    assert bounds.loc[0, "low"] == pytest.approx(0.5 - half) and bounds.loc[0, "high"] == pytest.approx(0.5 + half)
    assert (bounds.loc[1, "low"], bounds.loc[1, "high"]) == pytest.approx(wilson_interval(50, 100))


def test_holm_adjusts_a_family_step_down_and_leaves_out_tests_not_made():
    # sorted 0.01, 0.03, 0.04 → × 3, × 2, × 1 = 0.03, 0.06, 0.04 → monotone: 0.03, 0.06, 0.06
    adjusted = holm([0.01, 0.04, 0.03, float("nan")])
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06]) and math.isnan(adjusted[3])
    assert holm([0.5, 0.9]).tolist() == pytest.approx([1.0, 1.0])  # capped at 1
    assert np.isnan(holm([float("nan")])).all()


def test_the_difference_bound_is_one_sided_and_knows_success_rates_from_continuous_scores():
    # equal success rates 0.5 at n = 1000 a side: about −1.645 × √(2 × 0.25 / 1000) = −0.037
    assert difference_lower_bound((0.5, 1000, float("nan")), (0.5, 1000, float("nan")), binary=True) == \
        pytest.approx(-0.0367, abs=0.001)
    # at n = 250 a side the same rates cannot show a 5-point margin (the report's MATCH_MARGIN)
    assert difference_lower_bound((0.5, 250, float("nan")), (0.5, 250, float("nan")), binary=True) < -0.05
    assert difference_lower_bound((0.0, 100, 0.0), (0.0, 100, 0.0), binary=True) < 0  # Newcombe: no zero width at 0
    # continuous scores: from their standard deviations, −1.645 × √(2 × 0.04 / 100) = −0.0465
    assert difference_lower_bound((0.5, 100, 0.2), (0.5, 100, 0.2), binary=False) == pytest.approx(-0.0465, abs=0.001)
    assert math.isnan(difference_lower_bound((0.5, float("nan"), 0.2), (0.5, 100, 0.2), binary=False))
