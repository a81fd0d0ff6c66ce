"""Ratio searches as Ray Tune searchers: each suggestion is a mixture that one ordinary SFT trial trains.

A suggestion is ``{"mixture": {lang: ratio}, "search": {"weights": ..., "predicted": ...}}``; the ratios are
already rounded to whole examples (``total`` per run), so what the searcher is told afterwards is exactly
what was trained. Each searcher ends with a *confirmation* run of its recommendation (unless that mixture
was already run), so the recommendation always comes with a measured score next to the predicted one.
Optuna TPE needs no adapter: Ray's ``OptunaSearch`` samples one weight per language and the trial
normalises them (see ``search.runs.ratio_search``).
"""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Callable

import numpy as np
from ray.tune.search import Searcher

from search.mixtures.climb_loop import ClimbSearch
from search.mixtures.regmix import RegMixSearch
from training.mixture import ratio_counts

METRIC = "val/objective"


def rounded(ratios: np.ndarray, languages: tuple[str, ...], total: int) -> np.ndarray:
    """The ratios a run of ``total`` examples can realise: whole examples, summing to ``total``."""
    counts = ratio_counts(dict(zip(languages, map(float, ratios))), total)
    return np.array([counts.get(lang, 0) for lang in languages], float) / total


class MixtureSearcher(Searcher):
    """Shared bookkeeping: rounding, in-flight mixtures, the run budget and the confirmation run."""

    def __init__(self, languages: tuple[str, ...], weights: dict[str, float], total: int, runs: int):
        super().__init__(metric=METRIC, mode="min")
        self.languages, self.weights, self.total, self.runs = tuple(languages), dict(weights), total, runs
        self.weight_vector = np.array([weights[lang] for lang in languages])
        self.in_flight: dict[str, np.ndarray] = {}
        self.started = 0
        self.measured: list[dict] = []  # {"ratios", "losses", "objective", "run": trial_id}
        self.confirming: str | None = None  # trial id of the confirmation run
        self.finished = False
        self.stop_reason = ""
        self.recommended: tuple[np.ndarray, dict[str, float] | None] | None = None  # (ratios, prediction)

    # Tune checkpoints its searcher with the experiment, so that a resumed sweep continues the search.
    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as file:
            pickle.dump(self.__dict__, file)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as file:
            self.__dict__.update(pickle.load(file))

    # ----------------------------------------------------------------- what subclasses provide
    def propose(self) -> tuple[np.ndarray, dict[str, float] | None] | None:
        """The next mixture and the searcher's prediction for it, or None to wait for results in flight."""
        raise NotImplementedError

    def recommendation(self) -> tuple[np.ndarray, dict[str, float] | None]:
        raise NotImplementedError

    def should_stop(self) -> bool:
        return False

    def learn(self, ratios: np.ndarray, losses: np.ndarray, objective: float) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------------------ Tune's API
    def suggest(self, trial_id: str) -> dict | None:
        if self.finished:
            return Searcher.FINISHED
        if self.confirming is not None:
            return None
        if self.started >= self.runs - 1 or (self.measured and self.should_stop()):
            if self.in_flight:
                return None  # the recommendation is made once every run so far is in
            ratios, predicted = self.recommendation()
            ratios = rounded(ratios, self.languages, self.total)
            self.stop_reason = self.stop_reason or f"run budget ({self.runs} runs)"
            self.recommended = (ratios, predicted)
            if any(np.allclose(ratios, m["ratios"]) for m in self.measured):
                self.finished = True  # already measured: nothing left to confirm
                return Searcher.FINISHED
            self.confirming = trial_id
            return self._launch(trial_id, ratios, predicted)
        proposal = self.propose()
        if proposal is None:
            return None
        ratios, predicted = proposal
        return self._launch(trial_id, rounded(ratios, self.languages, self.total), predicted)

    def _launch(self, trial_id: str, ratios: np.ndarray, predicted: dict[str, float] | None) -> dict:
        self.in_flight[trial_id] = ratios
        self.started += 1
        search = {"weights": self.weights, **({"predicted": predicted} if predicted else {})}
        return {"mixture": dict(zip(self.languages, map(float, ratios))), "search": search}

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        ratios = self.in_flight.pop(trial_id, None)
        if trial_id == self.confirming:
            self.finished = True
        if ratios is None or error or not result:
            return
        losses = np.array([result.get(f"selected/val/loss/{lang}", np.nan) for lang in self.languages])
        objective = float(np.dot(self.weight_vector, losses))
        self.measured.append({"ratios": ratios, "losses": losses, "objective": objective, "trial_id": trial_id})
        if trial_id != self.confirming:
            self.learn(ratios, losses, objective)


class ClimbSearcher(MixtureSearcher):
    """Climb (search.mixtures.climb_loop.ClimbSearch) on Ray Tune: initial design, then fitted optima; stops when the
    fitted law predicts a gain below ``min_gain`` over the best run, or at the run budget."""

    def __init__(self, languages, weights, total: int, runs: int, min_gain: float = 0.0, initial_runs: int | None = None,
                 seed: int = 0, previous: tuple[np.ndarray, np.ndarray] | None = None):
        super().__init__(languages, weights, total, runs)
        # Runs realise whole examples: proposals closer than rounding can tell apart are the same run.
        self.climb = ClimbSearch(self.languages, self.weight_vector, budget=total, initial_runs=initial_runs, seed=seed,
                                 previous=previous, resolution=len(self.languages) / total)
        self.min_gain = min_gain

    def _prediction(self, ratios: np.ndarray) -> dict[str, float]:
        law = self.climb.fit()
        predicted = {f"val/loss/{lang}": float(v) for lang, v in zip(self.languages, law.losses(ratios))}
        return {**predicted, METRIC: float(law.objective(ratios, self.weight_vector))}

    def propose(self):
        ratios = self.climb.ask(list(self.in_flight.values()))
        if ratios is None:
            return None
        fitted = len(self.climb.ratios) >= self.climb.initial_runs
        return ratios, self._prediction(ratios) if fitted else None

    def recommendation(self):
        ratios = self.climb.recommend().ratios
        return ratios, self._prediction(rounded(ratios, self.languages, self.total))

    def should_stop(self) -> bool:
        if len(self.climb.ratios) < self.climb.initial_runs or not self.min_gain:
            return False
        gain = self.climb.predicted_gain()
        if gain < self.min_gain:
            self.stop_reason = f"predicted gain {gain:.4g} < min_gain {self.min_gain:g}"
            return True
        return False

    def learn(self, ratios, losses, objective):
        self.climb.tell(ratios, losses)


class RegMixSearcher(MixtureSearcher):
    """RegMix-style (search.mixtures.regmix.RegMixSearch): Dirichlet mixtures, then the mixture its per-language
    regressions predict best."""

    def __init__(self, languages, weights, total: int, runs: int, seed: int = 0):
        super().__init__(languages, weights, total, runs)
        self.regmix = RegMixSearch(self.weight_vector, seed=seed)

    def propose(self):
        return self.regmix.ask(), None

    def recommendation(self):
        ratios = rounded(self.regmix.recommend()[0], self.languages, self.total)
        predicted = {f"val/loss/{lang}": float(v) for lang, v in zip(self.languages, self.regmix.predict_losses(ratios)[0])}
        return ratios, {**predicted, METRIC: float(self.regmix.predict(ratios)[0])}

    def learn(self, ratios, losses, objective):
        self.regmix.tell(ratios, losses)


def simplex_lattice(n: int, divisions: int) -> list[np.ndarray]:
    """Every mixture of n languages whose ratios are multiples of 1/divisions: C(divisions + n − 1, n − 1) of them
    (stars and bars: n − 1 bars among divisions + n − 1 places)."""
    points = []
    for bars in itertools.combinations(range(divisions + n - 1), n - 1):
        edges = (-1, *bars, divisions + n - 1)
        points.append(np.array([right - left - 1 for left, right in zip(edges, edges[1:])]) / divisions)
    return points


class GridSearcher(MixtureSearcher):
    """The brute-force reference: every mixture of the lattice, then the best one measured (no model, nothing
    predicted, nothing left to confirm)."""

    def __init__(self, languages, weights, total: int, divisions: int):
        self.points = simplex_lattice(len(languages), divisions)
        super().__init__(languages, weights, total, runs=len(self.points) + 1)  # (+1: the recommendation's turn)
        self.proposed = 0

    def propose(self):
        self.proposed += 1
        return self.points[self.proposed - 1], None

    def recommendation(self):
        return min(self.measured, key=lambda run: run["objective"])["ratios"], None

    def learn(self, ratios, losses, objective):
        pass  # the grid does not adapt: what it measured is in self.measured


def _climb(search, total: int, previous) -> Searcher:
    return ClimbSearcher(search.languages, search.weight_of(), total, search.runs, search.min_gain, search.initial_runs,
                         search.seed, previous)


def _regmix(search, total: int, previous) -> Searcher:
    return RegMixSearcher(search.languages, search.weight_of(), total, search.runs, search.seed)


def tpe_sampler(seed: int, budget: int):
    """Optuna's TPE with its random start scaled to the budget: a third of the runs, at least 2, at most Optuna's
    default of 10. With the default, a budget of 10 runs or fewer is all random start, i.e. random search."""
    import optuna

    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials(budget))


def startup_trials(budget: int) -> int:
    return min(10, max(2, budget // 3))


def _optuna(search, total: int, previous) -> Searcher:
    from ray.tune.search.optuna import OptunaSearch

    return OptunaSearch(metric=METRIC, mode="min", sampler=tpe_sampler(search.seed, search.runs))


# The registry of ratio-search strategies (the study's ``search.strategy``): strategy → factory(search section,
# examples per run, runs of earlier searches to start from). A new strategy is a Searcher and one line here.
def _grid(search, total: int, previous) -> Searcher:
    return GridSearcher(search.languages, search.weight_of(), total, search.divisions)


SEARCHERS: dict[str, Callable[..., Searcher]] = {"climb": _climb, "regmix": _regmix, "optuna": _optuna, "grid": _grid}
