"""Bad `search` sections are clear errors before any trial starts (issue 4's bad-input list)."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from search.runs.inputs import check_data
from search.runs.ratio_search import plan_searches
from search.study import load_study
from search.tracking import Tracker
from training.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _climb(tmp_path, **search_changes) -> Path:
    raw = yaml.safe_load((ROOT / "configs/climb.yaml").read_text())
    raw["search"].update(search_changes)
    path = tmp_path / "climb.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"weights": {"en": 0.5, "es": -0.1, "fr": 0.3, "ja": 0.3}}, r"search\.weights: negative weight for es; weights must be ≥ 0"),
        ({"weights": {"en": 0.5, "es": 0.2, "fr": 0.2, "ja": 0.2}}, r"search\.weights: sums to 1\.1, must sum to 1"),
        ({"weights": {"en": 0.5, "sw": 0.5}}, r"search\.weights: sw not among the languages searched \(en, es, fr, ja\)"),
        ({"languages": ["en", "xx"]}, r"search\.languages: unknown language 'xx'"),
        ({"languages": ["en", "te"], "weights": None}, r"search\.languages: 'te' is eval-only"),
        ({"languages": ["en"], "weights": None}, r"search\.languages: .*at least two training languages"),
        ({"total": 3}, r"search: .*total=3 is below one example per language \(4 languages\); raise search\.total"),
        ({"runs": 5, "initial_runs": 5}, r"search: .*runs=5 leaves no run after the 5 initial mixtures"),
        ({"strategy": "bayes"}, r"search\.strategy: Input should be 'climb', 'regmix', 'optuna' or 'grid'"),
        ({"strategy": "grid"}, r"search: .*divisions: the lattice of strategy 'grid'"),
        ({"divisions": 5}, r"search: .*divisions: the lattice of strategy 'grid' .*and of no other strategy"),
        ({"strategy": "grid", "divisions": 0}, r"search\.divisions: Input should be greater than or equal to 1"),
        ({"asha": True}, r"search: .*asha: early stopping applies to strategy 'optuna' only"),
        ({"min_gain": -1}, r"search\.min_gain: Input should be greater than or equal to 0"),
    ],
)
def test_bad_search_section_names_the_field(tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message):
        load_study(_climb(tmp_path, **changes))


def test_a_budget_spent_by_the_initial_design_is_refused_when_planned(tmp_path):
    """From scratch, 4 languages need n + 3 = 7 initial runs (n² + 2n = 24 losses, 4 per run, then one run for the
    residual degrees of freedom)."""
    study = load_study(_climb(tmp_path, runs=7))
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = tracker.experiment_id("climb-smoke", tmp_path / "artifacts")
    with pytest.raises(ConfigError, match=r"search\.runs: 7 leaves no run after the 7 initial mixtures of tiny-s/math; "
                                          r"raise search\.runs above 7"):
        plan_searches(study, tracker, experiment_id)
    assert [plan.previous for plan in plan_searches(load_study(_climb(tmp_path, runs=8)), tracker, experiment_id)] == [None]


def test_search_budget_above_the_data_is_refused(tmp_path, sample_dir):
    study = load_study(_climb(tmp_path, total=5000))
    with pytest.raises(ConfigError, match=r"search\.total: 5000 examples per run, but math train has 1200 per language"):
        check_data(study, sample_dir)


def test_a_searched_language_without_data_is_refused_before_ray_starts(tmp_path, sample_dir):
    """A data folder that lacks one searched language: the CLI names the missing file, exit 2, no Ray."""
    data = tmp_path / "data"
    for lang in ("en", "es", "fr"):  # no ja
        for split in ("train", "validation"):
            (data / "math" / lang).mkdir(parents=True, exist_ok=True)
            source = sample_dir / "math" / lang / f"{split}.jsonl"
            (data / "math" / lang / f"{split}.jsonl").write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    raw = yaml.safe_load(_climb(tmp_path).read_text())
    raw["data"] = {"path": str(data)}
    raw["eval"]["languages"] = ["en"]
    (data / "math" / "en" / "test.jsonl").write_text((sample_dir / "math/en/test.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "nodata.yaml"
    path.write_text(yaml.safe_dump(raw))
    done = subprocess.run([sys.executable, "-m", "ray_jobs.cli", "--workdir", str(tmp_path / "w"), "climb", str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2, done.stderr
    assert f"{data / 'math' / 'ja' / 'train.jsonl'}: file not found" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "w" / "ray_results").exists()  # no trial started


def test_climb_refuses_a_study_without_search(tmp_path):
    done = subprocess.run([sys.executable, "-m", "ray_jobs.cli", "--workdir", str(tmp_path / "w"), "climb",
                           str(ROOT / "configs/smoke.yaml")], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert "search: not set; `polymix climb` needs a `search` section" in done.stderr
    assert not (tmp_path / "w").exists()


def test_every_strategy_a_study_may_name_has_a_searcher_in_the_registry():
    from typing import get_args

    from search.mixtures.searchers import SEARCHERS
    from search.study import RatioSearchConfig

    assert set(get_args(RatioSearchConfig.model_fields["strategy"].annotation)) == set(SEARCHERS)
