"""Climb's adaptive loop (docs/studies.md §1c): an initial design until every language's law is identified, then
each run at the fitted law's optimum, and a recommendation only beyond the noise. The law, its fit and its optimiser
are search/mixtures/climb.py; on Ray Tune the loop runs as search.mixtures.searchers.ClimbSearcher."""

from __future__ import annotations

import numpy as np

from search.mixtures.climb import (
    LossLaw,
    Optimum,
    fit_loss_law,
    language_parameters,
    measured_per_language,
    optimality_gap,
    optimise,
    residual_noise,
)
from search.mixtures.climb_uncertainty import GAIN_DRAWS, GainInterval, gain_interval, noise_covariance


def new_initial_runs(n: int, previous: tuple[np.ndarray, np.ndarray] | None = None) -> int:
    """Runs of the initial design still to make: every language needs n + 3 runs that measured it, its n + 2
    parameters and one run more (a residual degree of freedom: an estimate of the noise, and no law that passes
    through every point), 4 of which trained it. A new run measures every language, so the language measured least
    decides. Runs made before a language joined the search did not measure it: they count for the other languages
    only (n + 3 new runs for it), unless their kept checkpoints were validated on it (search/runs/revalidation.py);
    then they measure its row of T, and 4 new runs that train it give its own curve."""
    if previous is None or not len(previous[1]):
        return language_parameters(n) + 1
    ratios, losses = np.asarray(previous[0], float), np.asarray(previous[1], float)
    measured = measured_per_language(losses, n)
    # Runs that did not train a language measure only the transfer into it (its row of T) near zero data: its own
    # curve (E, B, β) needs runs that trained it, 4 of them (one more than its 3 parameters).
    trained = ((ratios > 0) & ~np.isnan(losses)).sum(axis=0)
    return max(2, int(language_parameters(n) + 1 - measured.min()), int(4 - trained.min()))


class ClimbSearch:
    """The adaptive loop of docs/studies.md §1c without Ray: ``ask()`` a mixture, ``tell()`` its per-language losses.

    First an initial design of proxy mixtures (the uniform mixture, then seeded random language subsets) until the
    runs measured every language more often than its law has parameters (:func:`new_initial_runs`: n + 3 runs from
    scratch);
    then each ask fits the law to every run so far and proposes its optimum. A proposal already run (or in flight) is replaced by a neighbour, a Dirichlet draw around it, so that every run adds
    information. ``predicted_gain`` (fitted objective of the best run so far minus that of the optimum) is the
    stopping signal.

    The recommendation is the law's optimum only where the interval of its predicted gain over the best run
    (:func:`~search.mixtures.climb_uncertainty.gain_interval`: refits to runs simulated with the runs' noise)
    excludes 0: otherwise the fitted optimum may move with the next run while the truth does not, and the best run
    is recommended instead. Without a residual degree of freedom the noise is unknown: the law's optimum is
    recommended, and only its confirmation run says what it is worth.

    ``previous`` = (ratios, losses) of runs made before, e.g. before a language joined the search: their
    ratios are 0 and their losses NaN for the languages they did not have (or measured on their checkpoints since).
    They inform the languages they measured; the initial design then trains the languages they did not train in
    every run, until 4 runs have.
    """

    def __init__(self, languages: tuple[str, ...], weights: np.ndarray, budget: float, offset: float = 1.0,
                 initial_runs: int | None = None, seed: int = 0, starts: int = 4,
                 previous: tuple[np.ndarray, np.ndarray] | None = None, resolution: float = 1e-3,
                 gain_draws: int = GAIN_DRAWS):
        self.languages, self.weights, self.budget, self.offset = tuple(languages), np.asarray(weights), budget, offset
        n = len(self.languages)
        self.rng = np.random.default_rng(seed)
        self.starts, self.seed = starts, seed
        self.resolution = resolution  # L1 distance under which two mixtures count as the same run
        self.ratios: list[np.ndarray] = []
        self.losses: list[np.ndarray] = []
        for ratios, losses in zip(*(previous or ((), ()))):
            self.tell(ratios, losses)
        self.reused = len(self.ratios)
        self.initial_runs = self.reused + (initial_runs or new_initial_runs(n, previous))
        self.law: LossLaw | None = None
        self.previous_law: LossLaw | None = None  # warm start for the next fit
        self.optimum: Optimum | None = None
        self.gain_draws = gain_draws
        self._gain: GainInterval | None = None

    def ask(self, in_flight: list[np.ndarray] = ()) -> np.ndarray | None:
        """The next mixture to run, or None while the initial design's results are still in flight."""
        n = len(self.languages)
        planned = len(self.ratios) + len(in_flight)
        known = np.array([*self.ratios, *in_flight]).reshape(-1, n)
        if planned < self.initial_runs:
            return np.full(n, 1.0 / n) if planned == self.reused else self._subset_mixture(known)
        if len(self.ratios) < self.initial_runs:
            return None
        proposal = self.fitted_optimum().ratios  # the law's own optimum: running it tests the law where it matters
        if np.abs(known - proposal).sum(axis=1).min() < self.resolution:
            proposal = self.rng.dirichlet(50 * proposal + 0.5)  # a neighbour: already run, learn nearby
        return proposal

    def _subset_mixture(self, known: np.ndarray) -> np.ndarray:
        """An initial-design mixture: a random subset of the languages (2 to n − 1 of them; 1 when n = 2)
        with Dirichlet(2) ratios. A language left out measures only what the others transfer to it (T);
        one with a large share measures its own law far from the uniform mixture (E, B, β). Few languages
        have few subsets (n = 2: the two single-language runs), so a mixture already run or in flight
        gives way to a draw over all languages: a repeated run would add no information."""
        n = len(self.languages)
        size = int(self.rng.integers(min(2, n - 1), n))
        chosen = self.rng.choice(n, size=size, replace=False)
        if self.reused and len(known):  # after reuse: a language earlier runs did not train is in every subset
            untrained = np.flatnonzero((known > 0).sum(axis=0) < 4)
            if 0 < len(untrained) < n:
                others = self.rng.permutation(np.setdiff1d(np.arange(n), untrained))
                chosen = np.concatenate([untrained, others])[:max(size, len(untrained))]
        ratios = np.zeros(n)
        ratios[chosen] = self.rng.dirichlet(np.full(size, 2.0))
        for _ in range(100):  # (a draw within the resolution of a known mixture would round to the same run)
            if not len(known) or np.abs(known - ratios).sum(axis=1).min() >= self.resolution:
                break
            ratios = self.rng.dirichlet(np.full(n, 2.0))
        return ratios

    def tell(self, ratios: np.ndarray, losses: np.ndarray) -> None:
        self.ratios.append(np.asarray(ratios, float))
        self.losses.append(np.asarray(losses, float))
        self.law = self.optimum = self._gain = None

    def fit(self) -> LossLaw:
        if self.law is None:
            self.law = fit_loss_law(self.languages, np.array(self.ratios), np.array(self.losses), self.budget,
                                    self.offset, starts=self.starts if self.previous_law is None else 1,
                                    seed=self.seed + len(self.ratios), initial=self.previous_law)
            self.previous_law = self.law
        return self.law

    def noise(self) -> float:
        """The fit's residual noise of one measured loss (inf without residual degrees of freedom)."""
        return residual_noise(self.fit(), np.array(self.ratios), np.array(self.losses))

    def best_run(self) -> np.ndarray:
        """The run the fitted law rates best: the mixture the predicted gain and its interval are measured from."""
        law = self.fit()
        return min(self.ratios, key=lambda ratios: law.objective(ratios, self.weights))

    def fitted_optimum(self) -> Optimum:
        """The minimum of the fitted law's objective on the simplex (or the run the law rates best, where the
        optimiser stops at, or by rounding just above, that run's objective: the predicted gain is never < 0)."""
        if self.optimum is None:
            law = self.fit()
            optimum = optimise(law, self.weights)
            best = self.best_run()
            if law.objective(best, self.weights) <= optimum.objective:
                optimum = self._run_as_optimum(best)
            self.optimum = optimum
        return self.optimum

    def _run_as_optimum(self, ratios: np.ndarray) -> Optimum:
        law = self.fit()
        return Optimum(ratios, float(law.objective(ratios, self.weights)), "run", 0,
                       optimality_gap(law, ratios, self.weights))

    def objective_noise(self) -> float:
        """The noise of one run's measured objective Σ w_i L_i, √(wᵀΣw) with Σ the noise's covariance across
        languages (:func:`~search.mixtures.climb_uncertainty.noise_covariance`); inf while the noise is unknown."""
        if not np.isfinite(self.noise()):
            return float("inf")
        covariance, _ = noise_covariance(self.fit(), np.array(self.ratios), np.array(self.losses))
        return float(np.sqrt(self.weights @ covariance @ self.weights))

    def gain_interval(self) -> GainInterval | None:
        """The interval of :meth:`predicted_gain` (None while the noise is unknown, or where the law's optimum is a
        run already: no gain to bound)."""
        optimum = self.fitted_optimum()
        if optimum.method == "run" or not np.isfinite(self.noise()):
            return None
        if self._gain is None:
            self._gain = gain_interval(self.fit(), np.array(self.ratios), np.array(self.losses), self.weights,
                                       self.best_run(), optimum.ratios, draws=self.gain_draws, seed=self.seed)
        return self._gain

    def recommend(self) -> Optimum:
        """The fitted optimum where the interval of its predicted gain over the best run excludes 0 (or where the
        noise is unknown), else the best run (``method`` says which)."""
        optimum = self.fitted_optimum()
        interval = self.gain_interval()
        if interval is not None and interval.low <= 0:
            return self._run_as_optimum(self.best_run())
        return optimum

    def recommendation_rule(self) -> str:
        """Why :meth:`recommend` chose what it chose, in words (recommendation.json and the printout)."""
        if self.fitted_optimum().method == "run":
            return "best run: the law predicts no mixture better than the run it rates best"
        if not np.isfinite(self.noise()):
            return ("the law's optimum, with the noise unknown (a language has no residual degree of freedom: more "
                    "initial runs would measure it); only its confirmation run says what it is worth")
        gain, interval = self.predicted_gain(), self.gain_interval()
        bounds = (f"{interval.level:.0%} interval {interval.low:.4g} to {interval.high:.4g} ({interval.draws} refits "
                  f"to simulated runs; noise {interval.noise})")
        if interval.low <= 0:
            return f"best run: the law's optimum is predicted to gain {gain:.4g} over it, {bounds}, which includes 0"
        return f"the law's optimum: predicted to gain {gain:.4g} over the best run, {bounds}, which excludes 0"

    def predicted_gain(self) -> float:
        law = self.fit()
        return float(law.objective(self.best_run(), self.weights) - self.fitted_optimum().objective)
