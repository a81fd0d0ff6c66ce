"""Hyperparameter search spaces of a study's `tuning` section as Ray Tune's own distributions.

OptunaSearch, the random searcher (BasicVariantGenerator) and grid search all take Tune's domains, so one
conversion serves every searcher the study can choose.
"""

from __future__ import annotations

from ray import tune

from search.study import Distribution, TuningConfig


def tune_domain(distribution: Distribution, grid: bool = False):
    if distribution.loguniform is not None:
        return tune.loguniform(*distribution.loguniform)
    if distribution.uniform is not None:
        return tune.uniform(*distribution.uniform)
    if distribution.int_ is not None:
        low, high = distribution.int_
        return tune.randint(low, high + 1)  # the study's bounds are inclusive, Tune's upper bound is not
    return tune.grid_search(list(distribution.choice)) if grid else tune.choice(list(distribution.choice))


def tune_space(tuning: TuningConfig) -> dict:
    """``{hyperparameter: Tune domain}`` for the study's searcher."""
    return {name: tune_domain(distribution, grid=tuning.searcher == "grid") for name, distribution in tuning.space.items()}
