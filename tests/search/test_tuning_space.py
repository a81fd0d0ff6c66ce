"""The `tuning` section: search spaces validated like the rest of the study, converted to Ray Tune's domains."""

from pathlib import Path

import pytest
from ray.tune.search.sample import Categorical, Float, Integer, LogUniform

from search.runs.designs import expand_trials
from search.runs.early_stopping import early_stopping
from search.runs.trial import trial_params
from search.runs.tuning import max_epochs, plan_tunings, tune_space, tuning_spec
from search.study import load_study
from search.tracking import Tracker, tuned_tag
from training.errors import ConfigError

SMOKE = Path(__file__).resolve().parents[2] / "configs/smoke.yaml"


def study_with(tuning: str):
    return load_study(SMOKE, [f"tuning={tuning}"])


def test_spaces_become_tune_domains():
    study = study_with("{mixture: en-es, space: {lr: {loguniform: [1.0e-4, 1.0e-2]}, warmup_ratio: {uniform: [0, 0.1]}, "
                       "epochs: {int: [1, 3]}, global_batch: {choice: [32, 64]}}}")
    space = tune_space(study.tuning)
    assert isinstance(space["lr"], Float) and isinstance(space["lr"].get_sampler(), LogUniform)
    assert (space["lr"].lower, space["lr"].upper) == (1e-4, 1e-2)
    assert isinstance(space["epochs"], Integer) and (space["epochs"].lower, space["epochs"].upper) == (1, 4)  # inclusive 3
    assert isinstance(space["global_batch"], Categorical) and space["global_batch"].categories == [32, 64]
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


@pytest.mark.parametrize("tuning, message", [
    ("{mixture: en, space: {lr: {uniform: [0, 1.0e-2]}}}", "tuning.space.lr: value 0.0: Input should be greater than 0"),
    ("{mixture: en, space: {warmup_ratio: {uniform: [0, 1.5]}}}", "tuning.space.warmup_ratio: value 1.5: Input should be less than 1"),
    ("{mixture: en, space: {global_batch: {choice: [32, 36]}}}", "tuning.space.global_batch: value 36: global_batch=36 must be a multiple of micro_batch=8"),
    ("{mixture: en, space: {global_batch: {choice: [32, 1024]}}}", "tuning.space.global_batch: 1024 is more than the math and api examples of mixture en"),
    ("{mixture: en, searcher: grid, samples: 3, space: {lr: {choice: [1.0e-3]}}}", "tuning: samples: the grid runs every combination once"),
])
def test_values_a_space_can_give_are_checked_as_training_settings(tuning, message):
    with pytest.raises(ConfigError) as error:
        study_with(tuning)
    assert message in str(error.value)
    assert len(str(error.value).splitlines()) == 1


def test_a_joint_search_needs_optuna_and_a_tuning_space():
    search = "search={strategy: optuna, languages: [en, es], total: 600, hparams: true}"
    with pytest.raises(ConfigError, match="search.hparams: a joint search takes its hyperparameter space from the `tuning` section"):
        load_study(SMOKE, [search])
    with pytest.raises(ConfigError, match="hparams: a joint ratio and hyperparameter search needs strategy 'optuna'"):
        load_study(SMOKE, [search.replace("optuna", "climb"), "tuning={space: {lr: {choice: [1.0e-3]}}}"])
    study = load_study(SMOKE, [search, "tuning={space: {lr: {loguniform: [1.0e-4, 1.0e-2]}}}"])
    assert study.tuning.mixture is None and study.search.hparams  # a joint search samples its own mixtures


def test_tuning_samples_become_the_trials_training_settings():
    import numpy as np

    study = study_with("{mixture: en-es, models: [tiny-m], space: {lr: {loguniform: [1.0e-4, 1.0e-2]}, epochs: {int: [1, 4]}}}")
    bases = plan_tunings(study)
    assert [(b.model.name, b.task, b.mixture) for b in bases] == [("tiny-m", "math", "en-es"), ("tiny-m", "api", "en-es")]
    assert bases[0].counts == {"en": 600, "es": 600}
    config = {"base": bases[0].model_dump(mode="json"), "hparams": {"lr": np.float64(2e-3), "epochs": np.int64(4)}}
    spec = tuning_spec(config)
    assert (spec.train.lr, spec.train.epochs) == (2e-3, 4) and type(spec.train.epochs) is int
    assert spec.spec_hash != bases[0].spec_hash and spec.model_copy(update={"train": bases[0].train}).spec_hash == bases[0].spec_hash
    assert max_epochs(study.tuning, bases[0]) == 4


def test_tuned_values_replace_the_train_section_per_model_and_task():
    study = load_study(SMOKE, ["hparams=from_tuning"])
    tuned = {("tiny-s", "math"): ({"lr": 7e-4, "epochs": 5}, "run-1")}
    trials = expand_trials(study, tuned)
    plain = {t.label: t for t in expand_trials(study)}
    for trial in trials:
        if trial.model.name == "tiny-s" and trial.task == "math" and not trial.baseline:
            assert (trial.train.lr, trial.train.epochs, trial.tuned_from) == (7e-4, 5, "run-1")
            assert trial_params(trial)["tuned_from"] == "run-1" and trial_params(trial)["train.lr"] == 7e-4
        else:  # other models and tasks, and the untrained baselines, keep the train section
            assert trial.tuned_from is None and trial == plain[trial.label]
    # Where the values came from is provenance, not identity: a grid run with the best trial's values is that trial.
    tuned_en = next(t for t in trials if t.label == "tiny-s/math/en")
    assert tuned_en.spec_hash == plain["tiny-s/math/en"].with_hparams({"lr": 7e-4, "epochs": 5}).spec_hash


def test_tracker_finds_the_latest_finished_tuning_run_per_model_and_task(tmp_path):
    import json

    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = tracker.experiment_id("study", tmp_path / "artifacts")

    def tuning_run(tags: dict, status: str = "FINISHED") -> str:
        run_id, _ = tracker.parent_run(experiment_id, f"tuning-{len(tags)}-{status}", "study", {}, kind="tuning")
        tracker.set_tags(run_id, {tuned_tag(*pair): json.dumps(values) for pair, values in tags.items()})
        tracker.finish(run_id, status)
        return run_id

    old = tuning_run({("tiny-s", "math"): {"lr": 1e-3}, ("tiny-s", "api"): {"lr": 2e-3}})
    new = tuning_run({("tiny-s", "math"): {"lr": 5e-4}})
    tuning_run({("tiny-s", "math"): {"lr": 9.0}}, status="FAILED")  # an unfinished tuning decides nothing
    found = tracker.tuned_values(experiment_id, [("tiny-s", "math"), ("tiny-s", "api"), ("tiny-m", "math")])
    assert found == {("tiny-s", "math"): ({"lr": 5e-4}, new), ("tiny-s", "api"): ({"lr": 2e-3}, old)}
    assert tracker.latest_parent(experiment_id) is None  # tuning runs are not a study's sweeps (the report's parent)


@pytest.mark.parametrize("epochs", [2, 3, 4, 5, 8])
def test_asha_rungs_are_epochs_before_the_last(epochs):
    """A trial that trained all its epochs is never stopped (it would lose its test evaluation)."""
    scheduler = early_stopping("val/avg_loss", "min", epochs)
    milestones = sorted(milestone for milestone, _ in scheduler._brackets[0]._rungs)
    assert milestones == [m for m in (1, 2, 4) if m < epochs]


def test_one_epoch_trials_get_no_early_stopping():
    assert early_stopping("val/avg_loss", "min", 1) is None
