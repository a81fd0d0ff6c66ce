"""RegMix-style ratio search (arXiv 2407.01492, simplified): random mixtures → a regression → its best mixture.

Proxy runs on Dirichlet mixtures; a ridge regression on quadratic features of the ratios (pairwise
products stand in for language interactions) predicts the objective of any mixture; the recommendation is
the best predicted mixture of a large Dirichlet candidate pool. RegMix itself fits LightGBM on many small
proxy models; with a few dozen runs a regularised quadratic is the regression that can be fitted.
"""

from __future__ import annotations

import numpy as np


def quadratic_features(ratios: np.ndarray) -> np.ndarray:
    """[1, r_i, r_i·r_j (i ≤ j)] per row."""
    n = ratios.shape[1]
    upper = np.triu_indices(n)
    return np.hstack([np.ones((len(ratios), 1)), ratios, (ratios[:, :, None] * ratios[:, None, :])[:, upper[0], upper[1]]])


class RegMixSearch:
    """``ask()`` a mixture, ``tell()`` its objective; ``recommend()`` the best predicted mixture."""

    def __init__(self, n_languages: int, seed: int = 0, candidates: int = 20000, ridge: float = 1e-3):
        self.rng = np.random.default_rng(seed)
        self.pool = self.rng.dirichlet(np.ones(n_languages), candidates)
        self.n, self.ridge = n_languages, ridge
        self.ratios: list[np.ndarray] = []
        self.scores: list[float] = []

    def ask(self) -> np.ndarray:
        return self.rng.dirichlet(np.ones(self.n))

    def tell(self, ratios: np.ndarray, score: float) -> None:
        self.ratios.append(np.asarray(ratios, float))
        self.scores.append(float(score))

    def coefficients(self) -> np.ndarray:
        X, y = quadratic_features(np.array(self.ratios)), np.array(self.scores)
        return np.linalg.solve(X.T @ X + self.ridge * np.eye(X.shape[1]), X.T @ y)

    def predict(self, ratios: np.ndarray) -> np.ndarray:
        return quadratic_features(np.atleast_2d(ratios)) @ self.coefficients()

    def recommend(self) -> tuple[np.ndarray, float]:
        """The candidate with the lowest predicted objective, and that prediction."""
        predicted = quadratic_features(self.pool) @ self.coefficients()
        best = int(np.argmin(predicted))
        return self.pool[best], float(predicted[best])
