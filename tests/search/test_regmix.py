"""The RegMix-style baseline: one regression per language, its ridge penalty by leave-one-out error, and a continuous
optimiser of the weighted prediction over the mixtures the runs span."""

import numpy as np
import pytest
from scipy.optimize import minimize

from search.mixtures.regmix import RegMixSearch, quadratic_features


def quadratic_truth(rng, n):
    """Per-language losses that are exactly quadratic in the ratios, convex in the mixture (a known optimum)."""
    coefficients = []
    for i in range(n):
        linear = rng.uniform(-1.0, 0.0, n)
        linear[i] -= 2.0  # a language's own data lowers its loss most
        quadratic = np.diag(rng.uniform(0.5, 2.0, n))  # r_i² terms only: convex
        coefficients.append(np.concatenate([[rng.uniform(1, 2)], linear, quadratic[np.triu_indices(n)]]))
    return np.column_stack(coefficients)


def test_noiseless_quadratic_losses_give_the_true_optimum_of_the_weighted_objective():
    rng = np.random.default_rng(0)
    n, weights = 4, np.array([0.4, 0.3, 0.2, 0.1])
    truth = quadratic_truth(rng, n)
    losses_of = lambda ratios: quadratic_features(np.atleast_2d(ratios)) @ truth
    search = RegMixSearch(weights, seed=0)
    for ratios in [*np.eye(n), *(search.ask() for _ in range(36))]:  # the one-language runs: the runs span the simplex
        search.tell(ratios, losses_of(ratios)[0])
    np.testing.assert_allclose(search.predict_losses(np.eye(n)), losses_of(np.eye(n)), atol=1e-3)
    ratios, predicted = search.recommend()
    reference = minimize(lambda r: float(losses_of(r)[0] @ weights), np.full(n, 1 / n), method="SLSQP",
                         bounds=[(0, 1)] * n, constraints=[{"type": "eq", "fun": lambda r: r.sum() - 1}])
    assert float(losses_of(ratios)[0] @ weights) == pytest.approx(reference.fun, abs=1e-4)
    assert predicted == pytest.approx(reference.fun, abs=1e-3)
    # continuous: better than any run made
    assert predicted < search.predict(np.array(search.ratios)).min() - 1e-3


def test_the_recommendation_stays_where_the_runs_are():
    """Within the convex hull of the mixtures run, where a regression of few runs interpolates: runs that all give
    language 0 at least 0.4 never lead to a recommendation that gives it less, whatever the fit predicts there."""
    rng = np.random.default_rng(3)
    search = RegMixSearch(np.full(3, 1 / 3), seed=3)
    for _ in range(12):
        ratios = 0.4 * np.eye(3)[0] + 0.6 * rng.dirichlet(np.ones(3))  # language 0 at least 0.4
        # the objective (3 + r_0)/3 falls as language 0's share does: the fit would extrapolate below 0.4
        search.tell(ratios, np.array([1 - ratios[0], 1 + ratios[0], 1 + ratios[0]]) + rng.normal(0, 0.01, 3))
    recommended, _ = search.recommend()
    assert recommended[0] >= min(r[0] for r in search.ratios) - 1e-9


def test_each_language_chooses_its_penalty_and_unmeasured_losses_are_left_out():
    rng = np.random.default_rng(1)
    search = RegMixSearch(np.array([0.5, 0.5]), seed=1)
    for k in range(30):
        ratios = search.ask()
        signal = 2.0 - 1.5 * ratios[0] + ratios[0] ** 2  # a curved loss, measured exactly
        noise = 1.0 + rng.normal(0, 0.05)  # a loss the mixture does not move: noise alone
        search.tell(ratios, np.array([signal, noise if k % 3 else np.nan]))
    search.coefficients()
    curved, flat = search.penalties
    assert curved < flat  # the noise is smoothed away, the curve is kept
    assert search.predict_losses(np.array([0.3, 0.7]))[0, 0] == pytest.approx(2.0 - 0.45 + 0.09, abs=1e-3)
