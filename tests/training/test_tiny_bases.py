"""A study's tiny models: polymix's pre-trained bases by default, a random-init model where the study asks for one."""

from __future__ import annotations

import json

from search.runs.designs import expand_trials
from search.runs.inputs import resolve_model_paths
from search.study import load_study
from training.models import BASES_DIR, base_version, tiny_param_count

STUDY = """
name: bases
tasks: [math]
models:
  - {name: base-s, tiny: s}
  - {name: random-s, tiny: s, init: random}
mixtures:
  - {name: en, languages: [en], per_language: 8}
train: {global_batch: 8}
"""


def test_a_tiny_model_is_the_committed_base_unless_the_study_asks_for_random_init(tmp_path, sample_dir):
    study_file = tmp_path / "study.yaml"
    study_file.write_text(STUDY)
    study = load_study(study_file)
    paths = resolve_model_paths(study, sample_dir, tmp_path / "work")
    base = json.loads((BASES_DIR / "tiny-s" / "config.json").read_text())
    copied = json.loads((tmp_path / "work" / "models" / f"tiny-s-base-{base_version('s')}" / "config.json").read_text())
    assert paths["base-s"].endswith(f"tiny-s-base-{base_version('s')}") and copied == base
    assert base["architectures"] == ["LlamaForCausalLM"]
    random_config = json.loads((tmp_path / "work" / "models").joinpath(paths["random-s"]).joinpath("config.json").read_text())
    assert random_config["architectures"] == ["Qwen3ForCausalLM"]
    assert tiny_param_count("s", "pretrained") == json.loads((BASES_DIR / "tiny-s" / "manifest.json").read_text())["parameters"]


def test_a_new_version_of_a_base_makes_new_runs(tmp_path, monkeypatch):
    study_file = tmp_path / "study.yaml"
    study_file.write_text(STUDY)
    trials = expand_trials(load_study(study_file))
    hashes = {trial.model.name: trial.spec_hash for trial in trials}
    monkeypatch.setattr("search.runs.designs.base_version", lambda size: "another-version")
    again = {trial.model.name: trial.spec_hash for trial in expand_trials(load_study(study_file))}
    assert again["base-s"] != hashes["base-s"] and again["random-s"] == hashes["random-s"]
