"""Climb-style interaction-aware language ratios (docs/studies.md §1c): fit a loss law, then optimise the mixture.

This is **our formulation** of the idea of Climb (arXiv 2509.15556); the paper's exact formulas were not
available to us. Languages i = 1..n, mixture ratios r on the simplex, budget D examples.

- Interaction matrix T (n×n), T_ii = 1, T_ij ∈ [0, 1]: how much one unit of language-j data counts as
  language-i data. Effective ratios r̃ = T r.
- Loss law per language: L_i(r) = E_i + B_i · (D·r̃_i + d0)^(−β_i), d0 > 0 the data the base model
  already "has" (it keeps the loss of an unseen language finite). d0 is a normalisation, not a parameter to fit:
  on the simplex Σ_j r_j = 1, so d0 spreads over the r_j, and a law with any d0 ≥ 1 is exactly the law with d0 = 1,
  transfer T'_ij = (T_ij + c)/(1 + c) (c = (d0 − 1)/(D + 1); still in [0, 1]) and scale B·(1 + c)^(−β). The fit
  therefore holds d0 at 1 example: a fitted d0 would trade off against T with no change in any prediction
  (tests/search/test_climb.py checks the identity, and fits a d0 = 3·D truth with d0 held at 1 to 1e-5).
- Objective: Σ_i w_i L_i(r), w the importance weights (e.g. only target languages, or low-resource up).

Fit: bounded nonlinear least squares (scipy ``least_squares``) of T, E, B, β to observed per-language
validation losses of a set of mixtures, from several starts: n² + 2n parameters. The residuals left over measure
the run-to-run noise, which decides whether the fitted optimum is worth recommending over the best run (below).

Optimise: the objective is convex on the simplex (each L_i is convex and decreasing in r̃_i, and r̃ = T r is
linear), so a local minimum is the global one. ``optimise`` runs SLSQP with the analytic gradient
∂f/∂r_j = −Σ_i w_i · B_i · β_i · D · (D·r̃_i + d0)^(−β_i−1) · T_ij and certifies its point with the Frank–Wolfe
gap g·r − min_j g_j, an upper bound on f(r) − min f that is 0 exactly at the optimum. (An earlier two-step
alternation — equalise marginal benefits, then a linear programme for the magnitude — stalled on faces of the
feasible set: on held-out 10-language laws it converged on none of six instances.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares, minimize

from training.errors import ConfigError

MAX_EXPONENT = 1.0  # upper bound on the fitted β


@dataclass(frozen=True)
class LossLaw:
    """Per-language loss as a function of the mixture: L = E + B · (D · T r + d0)^(−β)."""

    languages: tuple[str, ...]
    transfer: np.ndarray  # T, n×n, unit diagonal
    floor: np.ndarray  # E
    scale: np.ndarray  # B
    exponent: np.ndarray  # β
    budget: float  # D, examples
    offset: float = 1.0  # d0, examples

    def effective(self, ratios: np.ndarray) -> np.ndarray:
        return np.asarray(ratios) @ self.transfer.T

    def losses(self, ratios: np.ndarray) -> np.ndarray:
        return self.floor + self.scale * (self.budget * self.effective(ratios) + self.offset) ** (-self.exponent)

    def objective(self, ratios: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return self.losses(ratios) @ weights

    def marginal_benefit(self, effective: np.ndarray) -> np.ndarray:
        """−∂L_i/∂r̃_i: loss reduction per unit of effective ratio."""
        return self.scale * self.exponent * self.budget * (self.budget * effective + self.offset) ** (-self.exponent - 1)

    def gradient(self, ratios: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """∂(Σ_i w_i L_i)/∂r_j = −Σ_i w_i · benefit_i · T_ij."""
        return -(weights * self.marginal_benefit(self.effective(ratios))) @ self.transfer


def check_weights(weights: dict[str, float], languages: tuple[str, ...], field: str = "search.weights") -> np.ndarray:
    """Importance weights as a vector in ``languages`` order: non-negative, summing to 1."""
    where = f"{field}: " if field else ""
    unknown = set(weights) - set(languages)
    if unknown:
        raise ConfigError(f"{where}{', '.join(sorted(unknown))} not among the languages searched ({', '.join(languages)})")
    vector = np.array([float(weights.get(lang, 0.0)) for lang in languages])
    if (vector < 0).any():
        raise ConfigError(f"{where}negative weight for {languages[int(np.argmin(vector))]}; weights must be ≥ 0")
    if not np.isclose(vector.sum(), 1.0, atol=1e-6):
        raise ConfigError(f"{where}sums to {vector.sum():.6g}, must sum to 1")
    return vector


# ------------------------------------------------------------------------------------------------ fit
def _checked(languages: tuple[str, ...], ratios, losses) -> tuple[np.ndarray, np.ndarray]:
    ratios, losses = np.asarray(ratios, float), np.asarray(losses, float)
    n = len(languages)
    if ratios.shape != losses.shape or ratios.ndim != 2 or ratios.shape[1] != n:
        raise ConfigError(f"climb fit: ratios {ratios.shape} and losses {losses.shape} must both be (runs × {n} languages)")
    if len(ratios) < 2:
        raise ConfigError("climb fit: needs at least 2 finished runs")
    unmeasured = [lang for lang, seen in zip(languages, (~np.isnan(losses)).any(axis=0)) if not seen]
    if unmeasured:
        raise ConfigError(f"climb fit: no run measured the loss of {', '.join(unmeasured)}; run a mixture that validates it")
    return ratios, losses


def law_parameters(n: int) -> int:
    """Parameters of an n-language law: T off the diagonal, and E, B, β per language."""
    return n * n + 2 * n


def language_parameters(n: int) -> int:
    """Parameters one language's loss depends on: its row of T (n − 1 off the diagonal), its E, B and β. Only runs
    that measured that language inform them, so identifiability is per language, not per law."""
    return n + 2


def measured_per_language(losses: np.ndarray, n: int) -> np.ndarray:
    """How many runs measured each language's loss (a NaN is a run that did not)."""
    losses = np.asarray(losses, float).reshape(-1, n)
    return (~np.isnan(losses)).sum(axis=0)


class _LeastSquares:
    """The fit's problem in θ = (T off-diagonal, E, A, β), with B = A·(D + d0)^β: A is on the scale of the losses,
    which keeps the problem well conditioned. A NaN loss (a language that run did not measure) has no residual."""

    def __init__(self, languages: tuple[str, ...], ratios: np.ndarray, losses: np.ndarray, budget: float, offset: float):
        self.languages, self.ratios, self.losses, self.budget, self.offset = languages, ratios, losses, budget, offset
        self.n = n = len(languages)
        self.mask = ~np.isnan(losses).ravel()
        self.off_diagonal = ~np.eye(n, dtype=bool)
        self.full = budget + offset
        self.rows = np.arange(len(ratios) * n).reshape(len(ratios), n)

    def unpack(self, theta: np.ndarray) -> LossLaw:
        transfer = np.eye(self.n)
        transfer[self.off_diagonal] = theta[: self.n * (self.n - 1)]
        floor, above, exponent = np.split(theta[self.n * (self.n - 1):], 3)
        return LossLaw(tuple(self.languages), transfer, floor, above * self.full ** exponent, exponent, self.budget,
                       self.offset)

    def pack(self, law: LossLaw) -> np.ndarray:
        return np.concatenate([law.transfer[self.off_diagonal], law.floor, law.scale * self.full ** -law.exponent,
                               law.exponent])

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        return (self.unpack(theta).losses(self.ratios) - self.losses).ravel()[self.mask]

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        """∂residual[k, i]/∂(T_ij, E_i, A_i, β_i), with x = (D·r̃ + d0)/(D + d0) and L = E + A·x^(−β)."""
        n, ratios, rows = self.n, self.ratios, self.rows
        _, above, exponent = np.split(theta[n * (n - 1):], 3)
        x = (self.budget * self.unpack(theta).effective(ratios) + self.offset) / self.full
        power = x ** (-exponent)
        jac = np.zeros((len(ratios) * n, len(theta)))
        d_effective = -above * exponent * power / x * self.budget / self.full  # ∂L[k, i]/∂r̃[k, i]
        for column, (i, j) in enumerate(zip(*np.nonzero(self.off_diagonal))):
            jac[rows[:, i], column] = d_effective[:, i] * ratios[:, j]
        for i in range(n):
            jac[rows[:, i], n * (n - 1) + i] = 1.0
            jac[rows[:, i], n * (n - 1) + n + i] = power[:, i]
            jac[rows[:, i], n * (n - 1) + 2 * n + i] = -above[i] * power[:, i] * np.log(x[:, i])
        return jac[self.mask]

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        n, lowest = self.n, np.nanmin(self.losses, axis=0)
        spread = np.maximum(np.nanmax(self.losses, axis=0) - lowest, 1e-3)
        # β ≤ 1: loss falls no faster than 1/data. Without the cap a floor E fitted just under the lowest
        # loss seen with a steep β fits noisy runs as well as the truth does, and its optimum is worse.
        lower = np.concatenate([np.zeros(n * (n - 1)), np.zeros(n), np.zeros(n), np.full(n, 0.01)])
        upper = np.concatenate([np.ones(n * (n - 1)), lowest + 1e-9, 100 * (spread + lowest), np.full(n, MAX_EXPONENT)])
        return lower, upper

    def default_start(self) -> np.ndarray:
        lowest = np.nanmin(self.losses, axis=0)
        spread = np.maximum(np.nanmax(self.losses, axis=0) - lowest, 1e-3)
        return np.concatenate([np.full(self.n * (self.n - 1), 0.1), 0.5 * lowest, 0.5 * lowest + spread,
                               np.full(self.n, 0.3)])


def fit_loss_law(languages: tuple[str, ...], ratios: np.ndarray, losses: np.ndarray, budget: float,
                 offset: float = 1.0, starts: int = 8, seed: int = 0, initial: LossLaw | None = None) -> LossLaw:
    """Least-squares fit of T, E, B, β to ``losses[k, i]`` observed after training on mixture ``ratios[k]``.

    A NaN loss is a language that run did not measure (a run from before the language joined the search): it is
    left out of the residuals. The first start is ``initial`` (the previous fit of an adaptive loop) or a neutral
    guess; the others are drawn uniformly within the bounds.
    """
    problem = _LeastSquares(languages, *_checked(languages, ratios, losses), budget, offset)
    lower, upper = problem.bounds()
    rng = np.random.default_rng(seed)
    best = None
    for start in range(starts):
        if start == 0:
            theta = problem.pack(initial) if initial is not None else problem.default_start()
        else:
            theta = rng.uniform(lower, upper)
            theta[-problem.n:] = rng.uniform(0.05, 1.0, problem.n)
        result = least_squares(problem.residuals, np.clip(theta, lower, upper), jac=problem.jacobian,
                               bounds=(lower, upper), x_scale="jac", xtol=1e-10, ftol=1e-10, gtol=1e-10, max_nfev=1000)
        if best is None or result.cost < best.cost:
            best = result
    return problem.unpack(best.x)


def residual_noise(law: LossLaw, ratios: np.ndarray, losses: np.ndarray) -> float:
    """The run-to-run noise of one measured loss the fit leaves unexplained: √(RSS / residual degrees of freedom),
    pooled over languages. Each language has its own degrees of freedom (its measured losses minus its n + 2
    parameters); inf while any language has none, since that language's law then passes through its points whatever
    the noise, and a pooled estimate from the other languages would hide that its parameters are undetermined."""
    n = len(law.languages)
    residuals = law.losses(np.asarray(ratios)) - np.asarray(losses)
    dof = measured_per_language(losses, n) - language_parameters(n)
    if (dof <= 0).any():
        return float("inf")
    return float(np.sqrt(np.nansum(residuals**2) / dof.sum()))


# ------------------------------------------------------------------------------------------- optimise
# Frank–Wolfe gap under which an optimum counts as certified: a millionth of a loss unit, three orders of magnitude
# under the run-to-run noise of validation losses (~0.002). SLSQP with the analytic gradient reaches ≤ 4e-8 on random
# 2–10-language laws (budgets 1e3–1e6 examples, d0 = 1 or 10): tests/search/test_climb.py.
GAP_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Optimum:
    ratios: np.ndarray
    objective: float
    # what produced the ratios: "slsqp" (optimise), "slsqp-multistart" (minimise_directly), "run" (a mixture already
    # run: the law's best, or the best run where the law's optimum is not predicted to beat it beyond the noise)
    method: str
    iterations: int
    gap: float  # Frank–Wolfe gap at ``ratios``: objective − min objective ≤ gap (0 at the optimum)

    @property
    def certified(self) -> bool:
        return self.gap <= GAP_TOLERANCE


def optimality_gap(law: LossLaw, ratios: np.ndarray, weights: np.ndarray) -> float:
    """g·r − min_j g_j with g the gradient at r: for a convex objective on the simplex, a bound on how far the
    objective at r is above its minimum (first-order condition: every funded language has the least gradient)."""
    g = law.gradient(ratios, weights)
    return float(max(g @ ratios - g.min(), 0.0))


def optimise(law: LossLaw, weights: np.ndarray) -> Optimum:
    """The minimum of the law's objective on the simplex: SLSQP with the analytic gradient from the uniform
    mixture, restarted from its own point while the Frank–Wolfe gap is above ``GAP_TOLERANCE`` (at most
    three times). Convex problem: the point it certifies is the global optimum."""
    n = len(law.languages)
    ratios = np.full(n, 1.0 / n)
    iterations = 0
    for _ in range(4):
        result = minimize(law.objective, ratios, args=(weights,), jac=law.gradient, method="SLSQP",
                          bounds=[(0.0, 1.0)] * n,
                          constraints=[{"type": "eq", "fun": lambda r: r.sum() - 1.0, "jac": lambda r: np.ones(n)}],
                          options={"ftol": 1e-15, "maxiter": 1000})
        iterations += int(result.nit)
        ratios = np.clip(result.x, 0.0, None)
        ratios = ratios / ratios.sum()
        gap = optimality_gap(law, ratios, weights)
        if gap <= GAP_TOLERANCE:
            break
    return Optimum(ratios, float(law.objective(ratios, weights)), "slsqp", iterations, gap)


def minimise_directly(law: LossLaw, weights: np.ndarray, starts: int = 4, seed: int = 0) -> Optimum:
    """SLSQP on the simplex with a numerical gradient, from the uniform mixture and further random starts:
    an independent reference for ``optimise`` (tests, benchmarks)."""
    n = len(law.languages)
    rng = np.random.default_rng(seed)
    best = None
    for attempt in range(starts):
        x0 = np.full(n, 1.0 / n) if attempt == 0 else rng.dirichlet(np.ones(n))
        result = minimize(lambda r: law.objective(r, weights), x0, method="SLSQP", bounds=[(0.0, 1.0)] * n,
                          constraints=[{"type": "eq", "fun": lambda r: r.sum() - 1.0}],
                          options={"ftol": 1e-14, "maxiter": 1000})
        if best is None or result.fun < best.fun:
            best = result
    ratios = np.clip(best.x, 0.0, None)
    ratios = ratios / ratios.sum()
    return Optimum(ratios, float(law.objective(ratios, weights)), "slsqp-multistart", int(best.nit),
                   optimality_gap(law, ratios, weights))


# ------------------------------------------------------------------------------------- adaptive loop
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

    The recommendation is the law's optimum only where the law predicts it beats the best run by more than the
    noise of one run's objective (the fit's residual noise, :func:`residual_noise`, times ‖w‖): within the noise
    the fitted optimum moves with every new run while the truth does not, so the best run is recommended instead.

    ``previous`` = (ratios, losses) of runs made before, e.g. before a language joined the search: their
    ratios are 0 and their losses NaN for the languages they did not have (or measured on their checkpoints since).
    They inform the languages they measured; the initial design then trains the languages they did not train in
    every run, until 4 runs have.
    """

    def __init__(self, languages: tuple[str, ...], weights: np.ndarray, budget: float, offset: float = 1.0,
                 initial_runs: int | None = None, seed: int = 0, starts: int = 4,
                 previous: tuple[np.ndarray, np.ndarray] | None = None, resolution: float = 1e-3):
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
        self.law = self.optimum = None

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

    def _best_run(self) -> np.ndarray:
        law = self.fit()
        return min(self.ratios, key=lambda ratios: law.objective(ratios, self.weights))

    def fitted_optimum(self) -> Optimum:
        """The minimum of the fitted law's objective on the simplex (or the run the law rates best, where the
        optimiser stops at, or by rounding just above, that run's objective: the predicted gain is never < 0)."""
        if self.optimum is None:
            law = self.fit()
            optimum = optimise(law, self.weights)
            best_run = self._best_run()
            if law.objective(best_run, self.weights) <= optimum.objective:
                optimum = self._run_as_optimum(best_run)
            self.optimum = optimum
        return self.optimum

    def _run_as_optimum(self, ratios: np.ndarray) -> Optimum:
        law = self.fit()
        return Optimum(ratios, float(law.objective(ratios, self.weights)), "run", 0,
                       optimality_gap(law, ratios, self.weights))

    def objective_noise(self) -> float:
        """The noise of one run's measured objective Σ w_i L_i: the residual noise times ‖w‖ (0 when it cannot be
        estimated, where the law is trusted as fitted)."""
        noise = self.noise()
        return float(noise * np.linalg.norm(self.weights)) if np.isfinite(noise) else 0.0

    def recommend(self) -> Optimum:
        """The fitted optimum where its predicted gain over the best run exceeds the noise of a run's objective,
        else the best run (``method`` says which)."""
        optimum = self.fitted_optimum()
        if optimum.method != "run" and self.predicted_gain() <= self.objective_noise():
            return self._run_as_optimum(self._best_run())
        return optimum

    def recommendation_rule(self) -> str:
        """Why :meth:`recommend` chose what it chose, in words (recommendation.json and the printout)."""
        if self.fitted_optimum().method == "run":
            return "best run: the law predicts no mixture better than the run it rates best"
        gain, noise = self.predicted_gain(), self.objective_noise()
        if not np.isfinite(self.noise()):
            return ("the law's optimum, with the noise unknown (a language has no residual degree of freedom: more "
                    "initial runs would measure it); only its confirmation run says what it is worth")
        if gain <= noise:
            return (f"best run: the law's optimum is predicted to gain {gain:.4g} over it, within the noise of a run's "
                    f"objective ({noise:.4g})")
        return f"the law's optimum: predicted to gain {gain:.4g} over the best run, beyond the noise ({noise:.4g})"

    def predicted_gain(self) -> float:
        law = self.fit()
        return float(law.objective(self._best_run(), self.weights) - self.fitted_optimum().objective)
