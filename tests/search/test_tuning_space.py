"""The `tuning` section: search spaces validated like the rest of the study, converted to Ray Tune's domains."""

from pathlib import Path

import pytest
from ray.tune.search.sample import Categorical, Float, Integer, LogUniform

from search.study import load_study
from search.tuning import tune_space
from training.errors import ConfigError

SMOKE = Path(__file__).resolve().parents[2] / "configs/smoke.yaml"


def study_with(tuning: str):
    return load_study(SMOKE, [f"tuning={tuning}"])


def test_spaces_become_tune_domains():
    study = study_with("{mixture: en-es, space: {lr: {loguniform: [1.0e-4, 1.0e-2]}, warmup_ratio: {uniform: [0, 0.1]}, "
                       "epochs: {int: [1, 3]}, global_batch: {choice: [16, 32]}}}")
    space = tune_space(study.tuning)
    assert isinstance(space["lr"], Float) and isinstance(space["lr"].get_sampler(), LogUniform)
    assert (space["lr"].lower, space["lr"].upper) == (1e-4, 1e-2)
    assert isinstance(space["epochs"], Integer) and (space["epochs"].lower, space["epochs"].upper) == (1, 4)  # inclusive 3
    assert isinstance(space["global_batch"], Categorical) and space["global_batch"].categories == [16, 32]
    samples = [space["epochs"].sample() for _ in range(200)]
    assert set(samples) == {1, 2, 3}
    grid = tune_space(study_with("{mixture: en, searcher: grid, space: {lr: {choice: [1.0e-3, 3.0e-3]}}}").tuning)
    assert grid == {"lr": {"grid_search": [1e-3, 3e-3]}}


@pytest.mark.parametrize("tuning, message", [
    ("{mixture: en, space: {lr: {loguniform: [1.0e-2, 1.0e-4]}}}", "tuning.space.lr: low 0.01 ≥ high 0.0001; give [low, high] with low < high"),
    ("{mixture: en, space: {lr: {uniform: [0.1, 0.1]}}}", "tuning.space.lr: low 0.1 ≥ high 0.1"),
    ("{mixture: en, space: {lr: {loguniform: [0, 1.0e-2]}}}", "tuning.space.lr: loguniform needs low > 0 (got 0.0)"),
    ("{mixture: en, space: {lrr: {loguniform: [1.0e-4, 1.0e-2]}}}", "tuning.space: lrr: unknown hyperparameter; tunable: lr, epochs"),
    ("{mixture: en, space: {lr: {choice: []}}}", "tuning.space.lr: choice has no values; list at least one"),
    ("{mixture: en, space: {lr: {}}}", "tuning.space.lr: give exactly one of loguniform"),
    ("{mixture: en, space: {lr: {uniform: [0, 1], choice: [1]}}}", "tuning.space.lr: give exactly one of"),
    ("{mixture: en, space: {epochs: {uniform: [1, 3]}}}", "tuning.space: epochs: takes whole numbers; use int: [low, high]"),
    ("{mixture: en, space: {}}", "tuning.space: is empty; search at least one of lr"),
    ("{mixture: en, searcher: grid, space: {lr: {loguniform: [1.0e-4, 1.0e-2]}}}", "tuning: searcher 'grid' enumerates choices only"),
    ("{mixture: nope, space: {lr: {choice: [1.0e-3]}}}", "tuning.mixture: unknown mixture 'nope'; use one of core5-ratio, en"),
    ("{mixture: en, models: [tiny-xl], space: {lr: {choice: [1.0e-3]}}}", "tuning.models: unknown model 'tiny-xl'"),
    ("{mixture: en, space: {lr: {loguniform: [1.0e-4, 1.0e-2]}}, samples: 0}", "tuning.samples: Input should be greater than or equal to 1"),
])
def test_bad_search_spaces_name_the_field(tuning, message):
    with pytest.raises(ConfigError) as error:
        study_with(tuning)
    assert message in str(error.value)
    assert len(str(error.value).splitlines()) == 1
