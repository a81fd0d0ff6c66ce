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
the run-to-run noise, which decides whether the fitted optimum is worth recommending over the best run
(search/mixtures/climb_loop.py).

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


@dataclass(frozen=True)
class PriorAndTransfer:
    """The fitted T split into the base's prior and transfer, given the base's own losses (docs/studies.md §1c)."""

    transfer: np.ndarray  # T_ij: how much language-j data counts as language-i data, the base's prior taken out
    prior: np.ndarray  # p_i: how many examples of its own language the base's knowledge of language i is worth


def separate_prior(law: LossLaw, base_losses: np.ndarray) -> PriorAndTransfer:
    """T and the prior p from a fitted law and the base model's loss in each language (no fine-tuning: D·r̃ = 0).

    On the simplex every mixture's loss reads L_i = E_i + B_i · (Σ_j (D·T'_ij + d0) r_j)^(−β_i): runs alone fix the
    sums D·T'_ij + d0, not how they split between transfer and what the base already knew (the identity in the module
    docstring). The base's loss is the law's zero-data point: u_i = ((L0_i − E_i)/B_i)^(−1/β_i) is where the fitted
    curve reaches it, and with a true prior p_i the fitted sums are k·(D·T_ij + p_i) and u_i = k·p_i, so
    T_ij = (D·T'_ij + d0 − u_i)/(D + d0 − u_i) and p_i = D·u_i/(D + d0 − u_i). This assumes the base's loss lies on
    the curve its fine-tuned runs trace (no separate cost of learning the task's format). A T_ij below 0 means
    language-j data leaves language i worse than the base (interference). NaN where the base's loss is not above the
    fitted floor, or not above what the language's own data reaches (the law then has no zero-data point there).
    """
    base_losses = np.asarray(base_losses, float)
    n, budget, offset = len(law.languages), law.budget, law.offset
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = ((base_losses - law.floor) / law.scale) ** (-1.0 / law.exponent)
        reach = np.where(base_losses > law.floor, reach, np.nan)
        own = budget + offset - reach  # > 0: the language's own data beats the base
        own = np.where(own > 0, own, np.nan)
        transfer = (budget * law.transfer + offset - reach[:, None]) / own[:, None]
        prior = budget * reach / own
    transfer[np.arange(n), np.arange(n)] = np.where(np.isnan(own), np.nan, 1.0)
    return PriorAndTransfer(transfer, prior)


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
