"""The task registry (training.tasks) against the scorer registry (evaluation.scorers): a task that misses a part
is refused by check_task_registry, naming the task and the part, instead of failing after training."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from evaluation.scorers import SCORERS, check_task_registry, scorer_for
from training.errors import ConfigError
from training.tasks import FORMATS, TASKS, SampleGenerator, SourceFormat, get_task, registry


def test_the_real_registry_is_complete():
    check_task_registry()
    assert list(TASKS) == ["math", "api", "summarization", "instruction"]
    for task in TASKS.values():
        assert scorer_for(task) is SCORERS[task.scorer]
    assert FORMATS == {"mgsm": ("math", ("test",)), "mcot_math": ("math", ("train",)),
                       "mapicall_bank": ("api", ("train", "test")), "xlsum": ("summarization", ("train", "test")),
                       "aya_dolly": ("instruction", ("train", "test"))}


def _register(monkeypatch, **changes):
    fake = dataclasses.replace(get_task("math"), **{"name": "fake", "sources": {}, **changes})  # (its own formats)
    monkeypatch.setitem(TASKS, "fake", fake)
    return fake


def test_a_task_whose_scorer_is_not_registered_is_refused(monkeypatch):
    fake = _register(monkeypatch, scorer="no_such_scorer")
    with pytest.raises(ConfigError, match=r"task 'fake': scorer: 'no_such_scorer' is not registered.*numeric_answer"):
        check_task_registry()
    with pytest.raises(ConfigError, match=r"task 'fake' names scorer 'no_such_scorer'.*known scorers: numeric_answer"):
        scorer_for(fake)


def test_a_task_without_a_sample_generator_is_refused(monkeypatch):
    _register(monkeypatch, sample=None)
    with pytest.raises(ConfigError, match=r"task 'fake': sample: missing sample-data generator"):
        check_task_registry()


def test_a_task_whose_generated_rows_lack_a_required_field_is_refused(monkeypatch):
    math = get_task("math")
    _register(monkeypatch, sample=dataclasses.replace(
        math.sample, row=lambda example, lang: {k: v for k, v in math.sample.row(example, lang).items() if k != "answer"}))
    with pytest.raises(ConfigError, match=r"task 'fake': sample: generated train rows in en lack required field\(s\) answer"):
        check_task_registry()


def test_a_task_declaring_a_field_its_generator_never_writes_is_refused(monkeypatch):
    _register(monkeypatch, required_fields=(*get_task("math").required_fields, "rationale"))
    with pytest.raises(ConfigError, match=r"task 'fake': .*lack required field\(s\) rationale"):
        check_task_registry()


def test_a_task_with_a_format_but_no_reader_is_refused(monkeypatch):
    _register(monkeypatch, sources={"fake_format": SourceFormat(("train",), read=None)})
    with pytest.raises(ConfigError, match=r"task 'fake': sources.fake_format: no reader"):
        check_task_registry()


def test_every_broken_part_of_every_task_is_named_at_once(monkeypatch):
    _register(monkeypatch, scorer="missing", prompt=None)
    monkeypatch.setitem(TASKS, "other", dataclasses.replace(get_task("api"), name="other", sources={},
                                                            sample=SampleGenerator(None, None, None)))
    with pytest.raises(ConfigError) as error:
        check_task_registry()
    message = str(error.value)
    assert "task 'fake': prompt: missing" in message and "task 'fake': scorer: 'missing'" in message
    assert "task 'other': sample: missing" in message and "'math'" not in message


def test_the_registry_refuses_two_tasks_of_one_name_or_one_format_claimed_twice():
    math, api = get_task("math"), get_task("api")
    with pytest.raises(ValueError, match="two tasks are named 'math'"):
        registry(math, math)
    with pytest.raises(ValueError, match="format 'mgsm' is declared by tasks 'math' and 'copy'"):
        registry(math, dataclasses.replace(api, name="copy", sources={"mgsm": math.sources["mgsm"]}))


def test_a_study_of_a_task_whose_scorer_is_not_registered_is_refused_before_any_job(monkeypatch, tmp_path, sample_dir):
    """Loading the study refuses it (the tasks field names the task and the missing scorer); the data check that
    runs before any job starts (search.runs.inputs.check_data) asks every task of the study for its scorer too."""
    from search.runs.inputs import check_data
    from search.study import load_study

    path = Path(__file__).resolve().parents[2] / "configs" / "climb.yaml"
    study = load_study(path)
    monkeypatch.setitem(TASKS, "math", dataclasses.replace(get_task("math"), scorer="no_such_scorer"))
    with pytest.raises(ConfigError, match=r"climb.yaml: tasks: the task registry is incomplete: task 'math': scorer: "
                                          r"'no_such_scorer' is not registered"):
        load_study(path)
    with pytest.raises(ConfigError, match=r"task 'math' names scorer 'no_such_scorer'"):
        check_data(study, sample_dir)
