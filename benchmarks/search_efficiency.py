"""Search-efficiency benchmark: how many SFT runs does each strategy need to find a good language mixture?

A simulator with a known ground truth stands in for training: per instance, 10 languages, an interaction
matrix T (related languages transfer more), per-language losses, data available per language, and Gaussian noise
on every measured loss. Two kinds of truth: Climb's own loss law (E, B, β, d0 = 20), where Climb's model is right,
and a law of another shape (exponential saturation plus negative interference between languages), where it is
misspecified. A "run" of mixture r returns the noisy per-language losses, which Climb and the RegMix-style
regressions both see; Optuna TPE and the static rules see the weighted loss Σ w_i L_i (uniform weights). Every
strategy gets the same run budget; after k runs its recommendation (the best run so far, or its model's optimum)
is scored on the noiseless truth:

    regret(r) = (f(r) − f*) / (f(uniform) − f*)

so 0 is the true optimum and 1 is no better than the uniform mixture. Printed per truth and strategy (median over
instances): the runs needed until the recommendation is within 1% regret, on how many instances it then held within 1%
at every later run (a recommendation that drifts at the noise floor does not), and the regret after 10, 20, 40
runs. Strategies: the 22 mixtures of "English is Not All You Need" (each uniform over its languages),
uniform, temperature (T=3.3), UniMax, random Dirichlet, Optuna TPE, RegMix-style regressions, Climb (as
`polymix climb` runs it: d0 = 1, the initial design of n + 3 runs, the noise-aware recommendation).

    python benchmarks/search_efficiency.py --instances 10 --runs 40
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import optuna

from search.mixtures.allocation import temperature, unimax
from search.mixtures.climb import LossLaw, minimise_directly
from search.mixtures.climb_loop import ClimbSearch
from search.mixtures.regmix import RegMixSearch
from search.study import load_study
from training.languages import TRAINABLE_LANGUAGES

RELATED = [("es", "fr"), ("fr", "de"), ("en", "de"), ("ja", "zh"), ("bn", "th"), ("ru", "de"), ("th", "zh")]
CHECKPOINTS = (10, 20, 40)
TRUTHS = {"law": "Climb's loss law (what Climb fits: its model is right)",
          "interference": "exponential saturation with negative interference (a shape Climb's law cannot express)"}


class Interference:
    """A truth of another shape than Climb's law (the misspecified case): per language an exponential saturation in
    its effective data, L_i = E_i + B_i·exp(−k_i·r̃_i), and negative transfer that the law's T ≥ 0 cannot express:
    every other language's share costs capacity, + γ_i·Σ_j≠i C_ij·r_j²."""

    def __init__(self, languages: tuple[str, ...], transfer: np.ndarray, rng: np.random.Generator):
        n = len(languages)
        self.languages, self.transfer = languages, transfer
        self.floor, self.scale = rng.uniform(0.6, 1.2, n), rng.uniform(0.5, 2.0, n)
        self.rate = rng.uniform(3.0, 12.0, n)
        self.interference = rng.uniform(0.0, 0.4, (n, n)) * (1 - np.eye(n))

    def losses(self, ratios: np.ndarray) -> np.ndarray:
        ratios = np.asarray(ratios)
        effective = ratios @ self.transfer.T
        return self.floor + self.scale * np.exp(-self.rate * effective) + (ratios ** 2) @ self.interference.T

    def objective(self, ratios: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return self.losses(ratios) @ weights

    def gradient(self, ratios: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """∂(Σ_i w_i L_i)/∂r_j (for the optimality gap of the reference optimum)."""
        saturation = self.scale * self.rate * np.exp(-self.rate * (self.transfer @ ratios))
        return -(weights * saturation) @ self.transfer + 2 * ratios * (weights @ self.interference)


class Simulator:
    """Ground truth for one instance: noisy per-language losses of any mixture. ``truth="law"`` draws Climb's own
    loss law (with d0 = 20 examples, which Climb's d0 = 1 represents exactly: search/mixtures/climb.py); ``truth=
    "interference"`` a law of another shape (:class:`Interference`)."""

    def __init__(self, seed: int, noise: float, budget: float = 10000.0, truth: str = "law"):
        rng = np.random.default_rng(seed)
        self.languages = tuple(TRAINABLE_LANGUAGES)
        n = len(self.languages)
        index = {lang: i for i, lang in enumerate(self.languages)}
        T = np.eye(n)
        T[~np.eye(n, dtype=bool)] = rng.uniform(0, 0.08, n * (n - 1)) * (rng.random(n * (n - 1)) < 0.5)
        for a, b in RELATED:
            T[index[a], index[b]], T[index[b], index[a]] = rng.uniform(0.2, 0.6, 2)
        self.budget = budget
        if truth == "law":
            self.truth = LossLaw(self.languages, T, rng.uniform(0.6, 1.2, n), rng.uniform(3, 12, n),
                                 rng.uniform(0.25, 0.6, n), budget, offset=20.0)
        else:
            self.truth = Interference(self.languages, T, rng)
        self.available = {lang: int(v) for lang, v in zip(self.languages, np.exp(rng.uniform(np.log(1500), np.log(10000), n)))}
        self.weights = np.full(n, 1.0 / n)
        self.noise, self.rng = noise, np.random.default_rng(seed + 1000)
        self.best = minimise_directly(self.truth, self.weights, starts=8).objective
        self.uniform = float(self.truth.objective(np.full(n, 1.0 / n), self.weights))

    def run(self, ratios: np.ndarray) -> np.ndarray:
        return self.truth.losses(ratios) + self.rng.normal(0.0, self.noise, len(ratios))

    def regret(self, ratios: np.ndarray) -> float:
        return float((self.truth.objective(ratios, self.weights) - self.best) / (self.uniform - self.best))


def counts_to_ratios(counts: dict[str, int], languages) -> np.ndarray:
    vector = np.array([counts.get(lang, 0) for lang in languages], float)
    return vector / vector.sum()


def best_measured(sim: Simulator, mixtures) -> list[np.ndarray]:
    """Run the mixtures in order; after each run the recommendation is the best measured so far."""
    recommendations, best = [], (np.inf, None)
    for ratios in mixtures:
        score = float(sim.run(ratios) @ sim.weights)
        if score < best[0]:
            best = (score, ratios)
        recommendations.append(best[1])
    return recommendations


def paper_grid(sim: Simulator, runs: int, study_path: str) -> list[np.ndarray]:
    study = load_study(study_path)
    mixtures = [counts_to_ratios({lang: 1 for lang in m.trained_languages()}, sim.languages) for m in study.design_mixtures]
    return best_measured(sim, mixtures[:runs])


def static(ratios: np.ndarray, runs: int) -> list[np.ndarray]:
    return [ratios] * runs  # one mixture, chosen without running anything; more runs do not change it


def random_dirichlet(sim: Simulator, runs: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return best_measured(sim, [rng.dirichlet(np.ones(len(sim.languages))) for _ in range(runs)])


def optuna_tpe(sim: Simulator, runs: int, seed: int) -> list[np.ndarray]:
    """TPE over the simplex: one [0, 1] weight per language, normalised (what OptunaSearch searches)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=10))
    recommendations, best = [], (np.inf, None)
    for _ in range(runs):
        trial = study.ask()
        raw = np.array([trial.suggest_float(lang, 1e-3, 1.0) for lang in sim.languages])
        ratios = raw / raw.sum()
        score = float(sim.run(ratios) @ sim.weights)
        study.tell(trial, score)
        if score < best[0]:
            best = (score, ratios)
        recommendations.append(best[1])
    return recommendations


def regmix(sim: Simulator, runs: int, seed: int) -> list[np.ndarray]:
    """RegMix-style (search.mixtures.regmix): Dirichlet mixtures → a quadratic ridge regression per language → the
    mixture of least predicted objective (SLSQP)."""
    search = RegMixSearch(sim.weights, seed=seed)
    recommendations = []
    for _ in range(runs):
        ratios = search.ask()
        search.tell(ratios, sim.run(ratios))
        recommendations.append(search.recommend()[0])
    return recommendations


def climb(sim: Simulator, runs: int, seed: int, gain_draws: int = 40) -> list[np.ndarray]:
    # As polymix climb runs it (d0 = 1), but with fewer refits for the gain's interval than its 200: a
    # recommendation after every run costs a bootstrap each time.
    search = ClimbSearch(sim.languages, sim.weights, sim.budget, seed=seed, gain_draws=gain_draws)
    recommendations = []
    for _ in range(runs):
        ratios = search.ask()
        search.tell(ratios, sim.run(ratios))
        ready = len(search.ratios) >= search.initial_runs
        recommendations.append(search.recommend().ratios if ready else search.ratios[0])
    return recommendations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--noise", type=float, default=0.002, help="std of the Gaussian noise on each measured loss")
    parser.add_argument("--truth", choices=("law", "interference", "both"), default="both",
                        help="Climb's own loss law, a law of another shape (misspecified for Climb), or both")
    parser.add_argument("--study", default="configs/english_not_all.yaml", help="where the paper's 22 mixtures come from")
    args = parser.parse_args()

    strategies = {
        "paper grid (22)": lambda sim, s: paper_grid(sim, args.runs, args.study),
        "uniform": lambda sim, s: static(np.full(len(sim.languages), 1 / len(sim.languages)), args.runs),
        "temperature 3.3": lambda sim, s: static(counts_to_ratios(temperature(sim.available, 10000), sim.languages), args.runs),
        "UniMax": lambda sim, s: static(counts_to_ratios(unimax(sim.available, 10000), sim.languages), args.runs),
        "random Dirichlet": lambda sim, s: random_dirichlet(sim, args.runs, s),
        "Optuna TPE": lambda sim, s: optuna_tpe(sim, args.runs, s),
        "RegMix-style": lambda sim, s: regmix(sim, args.runs, s),
        "Climb": lambda sim, s: climb(sim, args.runs, s),
    }
    for truth in (("law", "interference") if args.truth == "both" else (args.truth,)):
        table = {name: [] for name in strategies}
        for instance in range(args.instances):
            for name, strategy in strategies.items():
                sim = Simulator(seed=instance, noise=args.noise, truth=truth)
                started = time.time()
                regrets = [sim.regret(r) for r in strategy(sim, instance)]
                table[name].append((regrets, time.time() - started))
            print(f"{truth}: instance {instance + 1}/{args.instances} done", flush=True)
        print_table(table, args, truth)


def print_table(table: dict, args, truth: str) -> None:
    print(f"\ntruth: {TRUTHS[truth]}")
    print(f"{args.instances} instances, 10 languages, noise σ={args.noise}, budget {args.runs} runs; medians over instances")
    print(f"{'strategy':<18} {'runs to ≤1% regret':>19} {'held':>5} " + " ".join(f"{f'regret@{k}':>10}" for k in CHECKPOINTS)
          + f" {'seconds':>8}")
    for name, results in table.items():
        needed = [next((k + 1 for k, r in enumerate(regrets) if r <= 0.01), None) for regrets, _ in results]
        reached = [k for k in needed if k is not None]
        runs_text = f"{np.median(reached):.0f}" if len(reached) * 2 > len(needed) else f"> {args.runs}"
        runs_text += f" ({len(reached)}/{len(needed)})"
        # held: instances whose recommendation, once within 1%, stayed within 1% at every later run (no drift)
        held = sum(k is not None and max(regrets[k - 1:]) <= 0.01 for k, (regrets, _) in zip(needed, results))
        cells = []
        for k in CHECKPOINTS:
            at_k = [regrets[min(k, len(regrets)) - 1] for regrets, _ in results]
            cells.append(f"{np.median(at_k):>10.3f}" if k <= args.runs else f"{'—':>10}")
        print(f"{name:<18} {runs_text:>19} {held:>5} " + " ".join(cells) + f" {np.median([t for _, t in results]):>8.1f}")


if __name__ == "__main__":
    main()
