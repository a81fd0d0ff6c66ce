"""The Tune searchers driven by hand (suggest / on_trial_complete), with a known loss law as the trials."""

import numpy as np
from ray.tune.search import Searcher

from search.mixtures.climb import LossLaw, minimise_directly
from search.mixtures.searchers import METRIC, ClimbSearcher, GridSearcher, RegMixSearcher, rounded

LANGS = ("en", "es", "fr", "ja")
WEIGHTS = {lang: 0.25 for lang in LANGS}
TOTAL = 600


def truth() -> LossLaw:
    T = np.eye(4)
    T[1, 2] = T[2, 1] = 0.5  # es ↔ fr
    return LossLaw(LANGS, T, np.array([0.8, 0.9, 0.9, 1.1]), np.array([4.0, 6.0, 6.0, 9.0]),
                   np.array([0.4, 0.5, 0.5, 0.45]), budget=TOTAL, offset=1.0)


def run_searcher(searcher, law: LossLaw, concurrent: int = 2, limit: int = 100):
    """Tune's loop in miniature: keep ``concurrent`` trials in flight, complete the oldest first."""
    in_flight, suggested, n = [], [], 0
    while n < limit:
        while len(in_flight) < concurrent:
            n += 1
            config = searcher.suggest(f"t{n}")
            if config is None or config is Searcher.FINISHED:
                break
            in_flight.append((f"t{n}", config))
            suggested.append(config)
        if not in_flight:
            return suggested
        trial_id, config = in_flight.pop(0)
        ratios = np.array([config["mixture"][lang] for lang in LANGS])
        losses = law.losses(ratios)
        searcher.on_trial_complete(trial_id, {f"selected/val/loss/{lang}": v for lang, v in zip(LANGS, losses)})
    raise AssertionError("the searcher never finished")


def test_climb_searcher_finds_the_optimum_and_confirms_it():
    law = truth()
    searcher = ClimbSearcher(LANGS, WEIGHTS, TOTAL, runs=12, seed=0)
    suggested = run_searcher(searcher, law)
    assert len(suggested) <= 12 and searcher.finished
    for config in suggested:  # whole examples that add up to the budget
        counts = np.array(list(config["mixture"].values())) * TOTAL
        np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
        assert round(counts.sum()) == TOTAL
    ratios, predicted = searcher.recommended
    optimum = minimise_directly(law, np.full(4, 0.25), starts=8)
    uniform = law.objective(np.full(4, 0.25), np.full(4, 0.25))
    regret = (law.objective(ratios, np.full(4, 0.25)) - optimum.objective) / (uniform - optimum.objective)
    assert regret < 0.01
    # the recommendation was measured (by a confirmation run unless an earlier run already had that mixture),
    # and the fitted law predicted its objective
    measured = [m for m in searcher.measured if np.allclose(m["ratios"], ratios)]
    assert len(measured) == 1
    assert abs(measured[0]["objective"] - predicted[METRIC]) < 1e-3


def test_initial_design_waits_for_its_results_before_the_first_fit():
    searcher = ClimbSearcher(LANGS, WEIGHTS, TOTAL, runs=12, seed=0)
    # n + 3 = 7 initial mixtures, all at once: 24 parameters need 6 runs of 4 losses, and one run more leaves the fit
    # residual degrees of freedom
    first = [searcher.suggest(f"t{i}") for i in range(7)]
    assert all(config is not None for config in first)
    np.testing.assert_allclose(list(first[0]["mixture"].values()), 0.25)  # uniform first
    assert "predicted" not in first[1]["search"]
    assert searcher.suggest("t7") is None  # nothing to fit yet: wait


def test_initial_design_leaves_languages_out_and_never_repeats_a_mixture():
    """Subsets of the languages (a left-out language measures transfer alone); with two languages there are only
    two single-language subsets, so the other initial runs must be new mixtures, not the same run again."""
    searcher = ClimbSearcher(LANGS, WEIGHTS, TOTAL, runs=12, seed=0)
    design = np.array([list(searcher.suggest(f"t{i}")["mixture"].values()) for i in range(7)])
    assert ((design[1:] == 0).sum(axis=1) >= 1).all()  # after the uniform run, each leaves a language out
    for seed in range(20):
        pair = ClimbSearcher(("en", "es"), {"en": 0.5, "es": 0.5}, 128, runs=7, seed=seed)
        mixtures = [tuple(pair.suggest(f"t{i}")["mixture"].values()) for i in range(5)]  # n + 3 = 5 initial runs
        assert len(set(mixtures)) == 5, (seed, mixtures)


def test_min_gain_stops_early():
    law = truth()
    searcher = ClimbSearcher(LANGS, WEIGHTS, TOTAL, runs=40, min_gain=0.05, seed=0)
    suggested = run_searcher(searcher, law)
    assert len(suggested) < 40
    assert searcher.stop_reason.startswith("predicted gain")


def test_regmix_searcher_spends_its_budget_and_confirms_its_regression_optimum():
    law = truth()
    searcher = RegMixSearcher(LANGS, WEIGHTS, TOTAL, runs=10, seed=0)
    suggested = run_searcher(searcher, law)
    assert len(suggested) == 10 and searcher.finished
    ratios, predicted = searcher.recommended
    np.testing.assert_allclose([suggested[-1]["mixture"][lang] for lang in LANGS], ratios)
    assert METRIC in predicted


def test_rounding_keeps_the_budget_exact():
    ratios = rounded(np.array([0.3333, 0.3333, 0.3334, 0.0]), LANGS, 100)
    assert (ratios * 100).sum() == 100 and ratios[3] == 0


def test_grid_searcher_runs_every_lattice_mixture_once_and_recommends_the_best_measured():
    law = truth()
    searcher = GridSearcher(LANGS, WEIGHTS, TOTAL, divisions=3)  # C(3 + 3, 3) = 20 mixtures in steps of 1/3
    suggested = run_searcher(searcher, law)
    mixtures = {tuple(config["mixture"][lang] for lang in LANGS) for config in suggested}
    assert len(suggested) == len(mixtures) == 20 and searcher.finished
    assert all(abs(3 * r - round(3 * r)) < 1e-9 for mixture in mixtures for r in mixture)
    ratios, predicted = searcher.recommended
    objectives = {mixture: law.objective(np.array(mixture), np.full(4, 0.25)) for mixture in mixtures}
    assert predicted is None and tuple(ratios) == min(objectives, key=objectives.get)


def test_tpe_starts_at_random_for_a_third_of_the_budget_not_optunas_ten():
    """With Optuna's default of 10 random startup trials, an 8-run TPE search would be random search throughout."""
    from search.mixtures.searchers import startup_trials, tpe_sampler

    assert [startup_trials(runs) for runs in (4, 8, 12, 24, 60)] == [2, 2, 4, 8, 10]
    assert tpe_sampler(0, 8)._n_startup_trials == 2
