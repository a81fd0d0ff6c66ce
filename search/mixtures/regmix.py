"""RegMix-style ratio search (arXiv 2407.01492, simplified): random mixtures → regressions → their best mixture.

Proxy runs on Dirichlet mixtures; one ridge regression per language on quadratic features of the ratios (pairwise
products stand in for language interactions) predicts that language's validation loss for any mixture, as RegMix
fits one regression per target domain. Each language's ridge penalty is chosen by its leave-one-out error, so a
language whose loss bends sharply is regularised less than one whose loss is flat noise. The predicted objective
Σ w_i L̂_i(r) is then minimised continuously over the mixtures the runs span (SLSQP with its analytic gradient),
where the regressions interpolate. RegMix itself fits LightGBM on many small proxy models; with a
few dozen runs a regularised quadratic is the regression that can be fitted.

The searcher sees what Climb sees, every language's loss of every run, so that the comparison of the two
(benchmarks/search_efficiency.py, benchmarks/search_real.py) is between their models, not their inputs.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

RIDGE_GRID = np.logspace(-6, 1, 15)  # candidate penalties, picked per language by leave-one-out error


def quadratic_features(ratios: np.ndarray) -> np.ndarray:
    """[1, r_i, r_i·r_j (i ≤ j)] per row."""
    n = ratios.shape[1]
    upper = np.triu_indices(n)
    return np.hstack([np.ones((len(ratios), 1)), ratios, (ratios[:, :, None] * ratios[:, None, :])[:, upper[0], upper[1]]])


def ridge_loo(features: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, float]:
    """Ridge coefficients (intercept unpenalised) with the penalty of least leave-one-out squared error, and that
    penalty. The leave-one-out residual of a linear smoother is e_k / (1 − H_kk): no refitting."""
    penalty = np.eye(features.shape[1])
    penalty[0, 0] = 0.0
    best = None
    for ridge in RIDGE_GRID:
        inverse = np.linalg.pinv(features.T @ features + ridge * penalty)
        coefficients = inverse @ features.T @ targets
        leverage = np.einsum("ij,jk,ik->i", features, inverse, features)
        residuals = (targets - features @ coefficients) / np.maximum(1.0 - leverage, 1e-6)
        error = float(np.mean(residuals ** 2))
        if best is None or error < best[0]:
            best = (error, coefficients, float(ridge))
    return best[1], best[2]


class RegMixSearch:
    """``ask()`` a mixture, ``tell()`` its per-language losses; ``recommend()`` the mixture of least predicted
    objective Σ w_i L̂_i."""

    def __init__(self, weights: np.ndarray, seed: int = 0):
        self.weights = np.asarray(weights, float)
        self.n = len(self.weights)
        self.rng = np.random.default_rng(seed)
        self.ratios: list[np.ndarray] = []
        self.losses: list[np.ndarray] = []
        self._coefficients: np.ndarray | None = None
        self.penalties: list[float] = []  # the ridge penalty each language's regression chose

    def ask(self) -> np.ndarray:
        return self.rng.dirichlet(np.ones(self.n))

    def tell(self, ratios: np.ndarray, losses: np.ndarray) -> None:
        self.ratios.append(np.asarray(ratios, float))
        self.losses.append(np.asarray(losses, float))
        self._coefficients = None

    def coefficients(self) -> np.ndarray:
        """(features × languages): each language's regression on the runs that measured its loss (not NaN)."""
        if self._coefficients is None:
            features, losses = quadratic_features(np.array(self.ratios)), np.array(self.losses)
            columns, self.penalties = [], []
            for i in range(self.n):
                measured = ~np.isnan(losses[:, i])
                coefficients, ridge = ridge_loo(features[measured], losses[measured, i])
                columns.append(coefficients)
                self.penalties.append(ridge)
            self._coefficients = np.column_stack(columns)
        return self._coefficients

    def predict_losses(self, ratios: np.ndarray) -> np.ndarray:
        return quadratic_features(np.atleast_2d(ratios)) @ self.coefficients()

    def predict(self, ratios: np.ndarray) -> np.ndarray:
        """The predicted objective Σ w_i L̂_i of each row of ``ratios``."""
        return self.predict_losses(ratios) @ self.weights

    def _gradient(self, ratios: np.ndarray) -> np.ndarray:
        """∂/∂r of the predicted objective: c + 2·Q·r, from its linear and quadratic coefficients."""
        combined = self.coefficients() @ self.weights
        linear, quadratic = combined[1:1 + self.n], np.zeros((self.n, self.n))
        quadratic[np.triu_indices(self.n)] = combined[1 + self.n:]
        return linear + (quadratic + quadratic.T) @ ratios

    def recommend(self, starts: int = 4) -> tuple[np.ndarray, float]:
        """The mixture of least predicted objective, and that prediction, within the convex hull of the mixtures
        run (r = λ·R, λ on the simplex of the runs): a regression of a few dozen runs interpolates, and its
        optimum outside the runs' span is where it extrapolates (measured: regret 26 × the uniform→optimum gap
        over the whole simplex, 10 languages, 20 runs). SLSQP over λ with the analytic gradient, from the uniform λ
        and the ``starts`` best runs."""
        runs = np.array(self.ratios)
        k = len(runs)
        objective = lambda weights: float(self.predict(weights @ runs)[0])
        gradient = lambda weights: runs @ self._gradient(weights @ runs)
        predicted_runs = self.predict(runs)
        begin = [np.full(k, 1.0 / k), *np.eye(k)[np.argsort(predicted_runs)[:starts]]]
        best = (float(predicted_runs.min()), runs[int(np.argmin(predicted_runs))])
        for x0 in begin:
            result = minimize(objective, x0, jac=gradient, method="SLSQP", bounds=[(0.0, 1.0)] * k,
                              constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(k)}],
                              options={"ftol": 1e-12, "maxiter": 500})
            weights = np.clip(result.x, 0.0, None)
            ratios = (weights / weights.sum()) @ runs
            value = float(self.predict(ratios)[0])
            if value < best[0]:
                best = (value, ratios)
        return best[1], best[0]
