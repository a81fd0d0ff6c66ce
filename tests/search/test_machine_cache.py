"""The machine cache: the sample data and random-init tiny models built on it are generated once per machine and copied
into each work dir, which keeps a complete copy of its own (a cluster's nodes read the work dir). A pre-trained base
is copied from the repository (tests/training/test_tiny_bases.py)."""

import filecmp
from pathlib import Path

import training.models
from search.runs.inputs import CACHE_ENV, resolve_data_dir, resolve_model_paths
from search.study import load_study

ROOT = Path(__file__).resolve().parents[2]


def prepare(workdir: Path):
    study_file = workdir.parent / f"{workdir.name}.yaml"
    study_file.write_text((ROOT / "tests/e2e/faults.yaml").read_text().replace("tiny: s}", "tiny: s, init: random}"))
    study = load_study(study_file)
    data_dir = resolve_data_dir(study, workdir)
    return data_dir, Path(resolve_model_paths(study, data_dir, workdir)["tiny-s"])


def same_tree(a: Path, b: Path) -> bool:
    compared = filecmp.dircmp(a, b)
    return (not compared.left_only and not compared.right_only and not compared.diff_files
            and all(same_tree(a / d, b / d) for d in compared.common_dirs))


def test_a_second_work_dir_copies_what_the_first_built(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    first_data, first_model = prepare(tmp_path / "one")
    assert first_data.parent == (tmp_path / "one" / "data").resolve() and first_model.parent == (tmp_path / "one" / "models").resolve()
    cached_models = list((tmp_path / "cache" / "models").iterdir())
    assert len(cached_models) == 1 and same_tree(cached_models[0], first_model)

    def no_build(*args, **kwargs):
        raise AssertionError("built again: the machine cache was not used")

    monkeypatch.setattr(training.models, "train_tokenizer", no_build)
    monkeypatch.setattr("training.sources.write_sample_data", no_build)
    second_data, second_model = prepare(tmp_path / "two")
    assert second_data.parent == (tmp_path / "two" / "data").resolve() and (second_data / "COMPLETE").is_file()
    assert same_tree(first_data, second_data) and same_tree(first_model, second_model)
    assert (second_model / "config.json").is_file() and (second_model / "tokenizer.json").is_file()


def test_an_empty_cache_setting_builds_in_the_work_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    data_dir, model = prepare(tmp_path / "work")
    assert (data_dir / "COMPLETE").is_file() and (model / "config.json").is_file()
    assert not (tmp_path / "home").exists()

