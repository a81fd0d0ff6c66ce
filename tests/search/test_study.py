import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from search.runs.designs import expand_trials
from search.study import load_study, parse_study, preflight
from training.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _study(tmp_path, **changes):
    raw = yaml.safe_load((ROOT / "configs/smoke.yaml").read_text())
    raw.update(changes)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def test_smoke_study_expands_to_trials():
    study = load_study(ROOT / "configs/smoke.yaml")
    trials = expand_trials(study)
    assert len(trials) == 2 * 2 * (4 + 1)  # models × tasks × (mixtures + untrained baseline)
    counts = {t.mixture: t.counts for t in trials}
    assert counts["core5-ratio"] == {"en": 480, "es": 180, "ja": 180, "bn": 180, "sw": 180}
    assert len({t.spec_hash for t in trials}) == len(trials)
    assert expand_trials(load_study(ROOT / "configs/smoke.yaml"))[3].spec_hash == trials[3].spec_hash


@pytest.mark.parametrize(
    "mixtures, message",
    [
        ([{"name": "x", "languages": ["en", "xx"], "per_language": 10}], r"mixtures\[0\]\.languages: unknown language 'xx'"),
        ([{"name": "x", "languages": [], "per_language": 10}], r"mixtures\[0\]\.languages: is empty"),
        ([{"name": "x", "total": 100, "ratios": {"en": 0.5, "es": 0.4}}], r"mixtures\[0\]\.ratios: sums to 0.9, must sum to 1"),
        ([{"name": "x", "languages": ["te"], "per_language": 10}], r"mixtures\[0\]\.languages: 'te' is eval-only"),
        ([{"name": "x", "languages": ["en"], "per_language": 10, "extra": 1}], r"mixtures\[0\]\.extra: unknown key"),
    ],
)
def test_bad_mixtures_name_the_field(tmp_path, mixtures, message):
    with pytest.raises(ConfigError, match=message):
        load_study(_study(tmp_path, mixtures=mixtures))


def test_missing_model_path_and_malformed_yaml(tmp_path):
    study = load_study(_study(tmp_path, models=[{"name": "m", "path": str(tmp_path / "nope")}]))
    with pytest.raises(ConfigError, match=r"models\[0\]\.path: .*path does not exist"):
        preflight(study, "study.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntasks: [math\n")
    with pytest.raises(ConfigError, match="malformed YAML at line"):
        load_study(bad)
    with pytest.raises(ConfigError, match=r"train\.lr: Input should be greater than 0"):
        load_study(_study(tmp_path), ["train.lr=-1"])


def test_cli_rejects_bad_study_fast_without_ray(tmp_path):
    path = _study(tmp_path, mixtures=[{"name": "x", "languages": ["en", "klingon"], "per_language": 10}])
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "ray_jobs.cli", "--workdir", str(tmp_path / "w"), "run", str(path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert time.time() - started < 5
    assert done.returncode == 2
    assert "mixtures[0].languages: unknown language 'klingon'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "w").exists()  # nothing started, nothing written


def test_baseline_identity_ignores_training_settings():
    base = expand_trials(load_study(ROOT / "configs/smoke.yaml"))
    tuned = expand_trials(load_study(ROOT / "configs/smoke.yaml", ["train.lr=0.5", "train.engine=deepspeed"]))
    for before, after in zip(base, tuned):
        assert (before.spec_hash == after.spec_hash) == before.baseline


def test_overrides_index_lists_and_name_a_bad_index():
    study = load_study(ROOT / "configs/smoke.yaml", ["mixtures.1.per_language=100", "models.0.name=tiny-x"])
    assert study.mixtures[1].per_language == 100 and study.models[0].name == "tiny-x"
    with pytest.raises(ConfigError, match=r"--set 'mixtures\.9\.name=x': 9 is not an index of that list \(0 to 3\)"):
        load_study(ROOT / "configs/smoke.yaml", ["mixtures.9.name=x"])


def test_dose_design_expands_into_one_mixture_per_dose_and_explicit_counts():
    raw = yaml.safe_load((ROOT / "configs/smoke.yaml").read_text())
    raw["mixtures"] = [
        {"name": "dose", "dose": {"base": {"en": 600}, "languages": ["es", "ja"], "per_language": [0, 100, 400]}},
        {"name": "uneven", "examples": {"en": 300, "sw": {"math": 50, "api": 80}}},
    ]
    study = parse_study(raw, "dose.yaml")
    assert [m.name for m in study.design_mixtures] == ["dose-0", "dose-100", "dose-400", "uneven"]
    trials = {t.label: t for t in expand_trials(study) if not t.baseline}
    assert trials["tiny-s/math/dose-0"].counts == {"en": 600}  # the dose-0 run is English alone
    assert trials["tiny-s/math/dose-400"].counts == {"en": 600, "es": 400, "ja": 400}
    assert trials["tiny-m/api/uneven"].counts == {"en": 300, "sw": 80} and trials["tiny-m/math/uneven"].counts == {"en": 300, "sw": 50}
    assert study.training_languages() == ["en", "es", "ja", "sw"]
    assert len(trials) == 2 * 2 * 4


def test_multitask_variants_come_from_one_study_file():
    raw = yaml.safe_load((ROOT / "configs/posttrainer_smoke.yaml").read_text())
    raw.pop("multitask")
    single = {t.spec_hash: t for t in expand_trials(parse_study(raw, "single.yaml"))}
    raw["multitask"] = {"proportions": {"instruction": 0.5}}
    both = expand_trials(parse_study(raw, "both.yaml"))
    multi = [t for t in both if t.task == "multitask"]
    assert {t.spec_hash for t in both if t.task != "multitask"} == set(single)  # the single-task runs are unchanged
    assert len(multi) == 2 * 3 and all(not t.baseline for t in multi)  # models × doses
    run = next(t for t in multi if t.model.name == "tiny-s" and t.mixture == "dose-64")
    assert run.tasks == {"summarization": {"en": 256, "es": 64, "ja": 64}, "instruction": {"en": 128, "es": 32, "ja": 32}}
    assert run.counts == {"en": 384, "es": 96, "ja": 96} and run.label == "tiny-s/multitask/dose-64"
    raw["multitask"] = {"variants": ["multi"]}
    assert {t.task for t in expand_trials(parse_study(raw, "multi.yaml")) if not t.baseline} == {"multitask"}
    with pytest.raises(ConfigError, match="multitask.proportions.math: not a task of this study"):
        parse_study({**raw, "multitask": {"proportions": {"math": 0.5}}}, "bad.yaml")
    with pytest.raises(ConfigError, match="multitask.variants: a multi-task run needs at least two tasks"):
        parse_study({**raw, "tasks": ["summarization"], "plan": {}}, "bad.yaml")


def test_a_run_of_an_older_recipe_is_a_different_run(monkeypatch):
    """Runs recorded before a fix that changes what the same spec trains or measures must not be reused."""
    import search.runs.designs as designs

    trial = expand_trials(load_study(ROOT / "configs/smoke.yaml"))[1]
    current = trial.spec_hash
    monkeypatch.setattr(designs, "RECIPE", designs.RECIPE - 1)
    assert trial.spec_hash != current


def test_a_run_on_another_version_of_the_sample_data_is_a_different_run(monkeypatch):
    """Edited templates or generator make other data: runs on the sample data carry its version; runs on a data
    path do not (their files are the user's)."""
    import training.sources as sources

    study = load_study(ROOT / "configs/smoke.yaml")
    trial = expand_trials(study)[1]
    on_files = expand_trials(study.model_copy(update={"data": study.data.model_copy(update={"path": "/data"})}))[1]
    current, files_hash = trial.spec_hash, on_files.spec_hash
    monkeypatch.setattr(sources, "sample_data_version", lambda seed: "edited")
    assert trial.spec_hash != current and on_files.spec_hash == files_hash


def test_every_trial_field_is_declared_part_of_a_runs_identity_or_not():
    """A run's identity is the fields named as defining it: a field added to TrialSpec without that decision fails
    here instead of silently changing (or not changing) every run's hash."""
    from search.runs.designs import TrialSpec
    from search.study import ModelSpec

    assert set(TrialSpec.IDENTITY) | set(TrialSpec.NOT_IDENTITY) == set(TrialSpec.model_fields)
    assert not set(TrialSpec.IDENTITY) & set(TrialSpec.NOT_IDENTITY)
    assert set(TrialSpec.MODEL_IDENTITY) < set(ModelSpec.model_fields)
    trial = expand_trials(load_study(ROOT / "configs/smoke.yaml"))[3]
    annotated = trial.model_copy(update={"study": "renamed", "dose": 100, "tuned_from": "run-1"})
    assert annotated.spec_hash == trial.spec_hash
    assert trial.model_copy(update={"seed": trial.seed + 1}).spec_hash != trial.spec_hash


def test_disjoint_content_is_a_new_identity_and_is_sized_before_any_job(tmp_path, sample_dir):
    """Parallel content keeps every earlier run's identity; disjoint content is another run, and a mixture that
    asks for more than a language's own share of the problems is refused with the option that caused it."""
    from search.runs.inputs import check_data

    parallel = expand_trials(load_study(ROOT / "configs/smoke.yaml"))
    disjoint = expand_trials(load_study(_study(tmp_path, mixture={"content": "disjoint"})))
    assert [t.content_pool for t in parallel if not t.baseline] == [[]] * 16
    assert {tuple(t.content_pool) for t in disjoint if not t.baseline} == {("bn", "en", "es", "ja", "sw")}
    for before, after in zip(parallel, disjoint):
        assert (before.spec_hash == after.spec_hash) == before.baseline  # a baseline trains on no mixture
    with pytest.raises(ConfigError, match=r"mixtures\[0\] \(en\): 600 en examples asked, math train has 1200 "
                                          r"problems, 240 for each of the 5 training languages with mixture.content: "
                                          r"disjoint; lower the count \(or use mixture.content: parallel\)"):
        check_data(load_study(_study(tmp_path, mixture={"content": "disjoint"})), sample_dir)
    check_data(load_study(ROOT / "configs/smoke.yaml"), sample_dir)  # the same counts fit parallel content
    fitting = [{"name": "en", "languages": ["en"], "per_language": 240},
               {"name": "en-es", "languages": ["en", "es"], "per_language": 240}]
    fits = expand_trials(load_study(_study(tmp_path, mixtures=fitting, mixture={"content": "disjoint"})))
    check_data(load_study(_study(tmp_path, mixtures=fitting, mixture={"content": "disjoint"})), sample_dir)
    from search.runs.trial import sft_job, trial_params

    trained = next(t for t in fits if t.mixture == "en-es")
    assert sft_job(trained, "m", "d").content_pool == ["en", "es"]  # what build_mixture cuts into blocks
    assert trial_params(trained)["content"] == "disjoint"
    assert sft_job(parallel[1], "m", "d").content_pool is None and trial_params(parallel[1])["content"] == "parallel"
    with pytest.raises(ConfigError, match=r"study.yaml: mixture.content: Input should be 'parallel' or 'disjoint'"):
        load_study(_study(tmp_path, mixture={"content": "separate"}))
