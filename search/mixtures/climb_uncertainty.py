"""How sure Climb can be that the law's optimum beats the best run: an interval for the predicted gain.

The predicted gain is the fitted objective of the best run so far minus that of the law's optimum. Both are read
off one fit of noisy runs, so the gain has the fit's error, and more of it where the optimum lies far from every run
(an extrapolation). Its interval comes from a parametric bootstrap: new losses are drawn around the fitted law at
the mixtures that were run, with the noise the runs show; the law is fitted again to each draw; the gain between the
same two mixtures is read off every refit; the interval is the draws' percentiles (Efron & Tibshirani 1993, ch. 6
and 13). Refitting, rather than linearising the fit, keeps the bounds of T, β and B and the law's curvature.

Noise across languages. A run's per-language losses share its initialisation and data order, so their noise is
correlated, and the objective Σ w_i L_i of a run can then be as noisy as σ‖w‖₁ rather than σ‖w‖₂. Where enough
runs measured every language, the noise's covariance is estimated from the fit's residuals; where not, the draws
use perfectly correlated noise of the pooled residual σ, the bound for a run's objective.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from search.mixtures.climb import LossLaw, fit_loss_law, language_parameters, residual_noise

GAIN_DRAWS = 200  # refits per interval (each a warm-started least-squares fit: 0.05-0.2 s for 2-5 languages)
LEVEL = 0.95


@dataclass(frozen=True)
class GainInterval:
    low: float
    high: float
    level: float
    draws: int
    noise: str  # how the draws' noise across languages was set, in words

    def as_dict(self) -> dict:
        return {"low": self.low, "high": self.high, "level": self.level, "draws": self.draws, "noise": self.noise}


def noise_covariance(law: LossLaw, ratios: np.ndarray, losses: np.ndarray) -> tuple[np.ndarray, str]:
    """The covariance of one run's per-language loss noise, and how it was obtained.

    From the residuals of the runs that measured every language, where they leave at least n + 1 degrees of freedom
    beyond a language's n + 2 parameters (fewer estimate an n × n covariance too poorly); otherwise perfectly
    correlated noise of the pooled residual σ (inf while a language has no residual degree of freedom)."""
    n = len(law.languages)
    residuals = np.asarray(losses, float) - law.losses(np.asarray(ratios, float))
    complete = residuals[~np.isnan(residuals).any(axis=1)]
    dof = len(complete) - language_parameters(n)
    if dof >= n + 1:
        return complete.T @ complete / dof, (f"covariance across languages from the residuals of {len(complete)} "
                                             f"runs ({dof} degrees of freedom)")
    sigma = residual_noise(law, ratios, losses)
    return np.full((n, n), sigma**2), ("perfectly correlated across languages at the residual σ (too few runs to "
                                       "estimate the correlation: the bound for a run's objective)")


def gain_interval(law: LossLaw, ratios: np.ndarray, losses: np.ndarray, weights: np.ndarray, best: np.ndarray,
                  optimum: np.ndarray, draws: int = GAIN_DRAWS, level: float = LEVEL, seed: int = 0) -> GainInterval:
    """Percentile interval of objective(best) − objective(optimum) over refits of the law to simulated runs.

    Each draw keeps the runs' mixtures and which languages each measured (a run from before a language joined the
    search stays unmeasured there); the refit starts from ``law``, as the adaptive loop's fits do."""
    ratios, losses = np.asarray(ratios, float), np.asarray(losses, float)
    covariance, how = noise_covariance(law, ratios, losses)
    if not np.isfinite(covariance).all():
        raise ValueError("the noise is unknown (a language has no residual degree of freedom): no interval")
    rng = np.random.default_rng(seed)
    fitted, measured = law.losses(ratios), ~np.isnan(losses)
    gains = np.empty(draws)
    for draw in range(draws):
        # eigh: the perfectly correlated covariance is singular, which a Cholesky factor would refuse
        noise = rng.multivariate_normal(np.zeros(len(law.languages)), covariance, size=len(ratios), method="eigh")
        refit = fit_loss_law(law.languages, ratios, np.where(measured, fitted + noise, np.nan), law.budget,
                             law.offset, starts=1, initial=law)
        gains[draw] = refit.objective(best, weights) - refit.objective(optimum, weights)
    low, high = np.quantile(gains, [(1 - level) / 2, (1 + level) / 2])
    return GainInterval(float(low), float(high), level, draws, how)
