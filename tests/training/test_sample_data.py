"""Tests for training.sample_data: parallel, deterministic multilingual sample data for the four tasks."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from training.languages import ALL_LANGUAGES
from training.sample_data import SPLITS, plural_index, render, write_sample_data
from training.sample_templates import API_CATALOGUE, MATH_PROBLEMS
from training.tasks import TASKS

COUNTS = {"train": 300, "validation": 40, "test": 50}

SCRIPTS = {
    "ja": r"[\u3040-\u30ff\u4e00-\u9fff]",  # Hiragana, Katakana or CJK
    "zh": r"[\u4e00-\u9fff]",
    "ru": r"[\u0400-\u04ff]",
    "bn": r"[\u0980-\u09ff]",
    "te": r"[\u0c00-\u0c7f]",
    "th": r"[\u0e00-\u0e7f]",
}


def read(root: Path, task: str, lang: str, split: str) -> list[dict]:
    with open(root / task / lang / f"{split}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    assert write_sample_data(out, COUNTS["train"], COUNTS["validation"], COUNTS["test"], seed=0) == out
    return out


@pytest.fixture(scope="module")
def data(root) -> dict:
    return {
        (task, lang, split): read(root, task, lang, split)
        for task in TASKS
        for lang in ALL_LANGUAGES
        for split in SPLITS
    }


def test_catalogue_sizes():
    assert len(MATH_PROBLEMS) >= 12
    assert len(API_CATALOGUE) >= 24
    assert sum(api["split"] == "test" for api in API_CATALOGUE) >= 6
    for api in API_CATALOGUE:
        assert 1 <= len(api["args"]) <= 3
        assert set(api["requests"]) == set(ALL_LANGUAGES)
        assert api["doc"].startswith(f"{api['name']}({', '.join(api['args'])}):")
    for problem in MATH_PROBLEMS:
        assert set(problem["text"]) == set(ALL_LANGUAGES)


def test_files_and_row_counts(root, data):
    for task in TASKS:
        for lang in ALL_LANGUAGES:
            for split in SPLITS:
                assert len(data[task, lang, split]) == COUNTS[split], (task, lang, split)
    assert len(list(root.rglob("*.jsonl"))) == len(TASKS) * len(ALL_LANGUAGES) * len(SPLITS)


def test_default_counts_and_speed(tmp_path):
    start = time.perf_counter()
    write_sample_data(tmp_path)
    assert time.perf_counter() - start < 5
    for task in TASKS:
        for lang in ("en", "th"):
            assert [len(read(tmp_path, task, lang, s)) for s in SPLITS] == [1200, 120, 120]


def test_ids_parallel_across_languages(data):
    for task in TASKS:
        for split in SPLITS:
            ids = [row["id"] for row in data[task, "en", split]]
            assert all(re.fullmatch(rf"{task}-\d{{5}}", i) for i in ids)
            for lang in ALL_LANGUAGES:
                assert [row["id"] for row in data[task, lang, split]] == ids, (task, lang, split)


def test_splits_disjoint_by_id(data):
    for task in TASKS:
        ids = [row["id"] for split in SPLITS for row in data[task, "en", split]]
        assert len(ids) == len(set(ids))


def test_math_rows(data):
    for split in SPLITS:
        answers = [row["answer"] for row in data["math", "en", split]]
        for lang in ALL_LANGUAGES:
            rows = data["math", lang, split]
            assert set(rows[0]) == {"id", "question", "solution", "answer"}
            assert [row["answer"] for row in rows] == answers, lang
            for row in rows:
                assert 0 <= int(row["answer"]) <= 100
                assert re.findall(r"[0-9]+", row["solution"])[-1] == row["answer"], row
                assert not re.search(r"\{|\}|\|", row["question"] + row["solution"]), row  # no template leftovers


def test_api_rows(data):
    for split in SPLITS:
        for lang in ALL_LANGUAGES:
            for row, en in zip(data["api", lang, split], data["api", "en", split]):
                assert row["api_name"] == en["api_name"] and row["api_doc"] == en["api_doc"]
                assert list(row["arguments"]) == list(en["arguments"])
                for value in row["arguments"].values():
                    assert value in row["request"], (lang, value, row["request"])
                args = ", ".join(f"{k}='{v}'" for k, v in row["arguments"].items())
                assert row["call"] == f"{row['api_name']}({args})"
                assert not re.search(r"\{|\}|\|", row["request"]), row


def test_api_language_independent_values_identical(data):
    for split in SPLITS:
        for lang in ALL_LANGUAGES:
            for row, en in zip(data["api", lang, split], data["api", "en", split]):
                for key, value in en["arguments"].items():
                    if re.fullmatch(r"[0-9:\-]+|[A-Z]{3}|\S+@example\.com|[A-Z]+-?[0-9]+", value):
                        assert row["arguments"][key] == value, (lang, key)


def test_test_apis_disjoint_from_train(data):
    names = {split: {row["api_name"] for row in data["api", "en", split]} for split in SPLITS}
    assert not names["test"] & (names["train"] | names["validation"])
    assert len(names["test"]) >= 6


def test_scripts(data):
    for task, field in (("math", "question"), ("api", "request")):
        for lang, pattern in SCRIPTS.items():
            for row in data[task, lang, "train"]:
                assert re.search(pattern, row[field]), (lang, row[field])
        for lang in ("es", "fr", "de", "sw"):
            for row, en in zip(data[task, lang, "train"], data[task, "en", "train"]):
                assert row[field] != en[field], (lang, row[field])


def test_deterministic(tmp_path):
    kwargs = dict(n_train=50, n_validation=10, n_test=10)
    a, b, c = (write_sample_data(tmp_path / name, seed=seed, **kwargs) for name, seed in (("a", 3), ("b", 3), ("c", 4)))
    files = sorted(p.relative_to(a) for p in a.rglob("*.jsonl"))
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*.jsonl"))
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert any((a / f).read_bytes() != (c / f).read_bytes() for f in files)


def test_cli(tmp_path):
    from training.sample_data import main

    main([str(tmp_path), "--n-train", "5", "--n-validation", "2", "--n-test", "3"])
    assert len(read(tmp_path, "api", "ja", "test")) == 3


def test_plural_and_gender_rules():
    assert [plural_index("ru", n) for n in (1, 2, 5, 11, 12, 21, 22, 25)] == [0, 1, 2, 2, 2, 0, 1, 2]
    assert [plural_index("en", n) for n in (0, 1, 2)] == [1, 0, 1]
    assert [plural_index("fr", n) for n in (0, 1, 2)] == [0, 0, 1]
    assert render("{a} {a|Apfel|Äpfel}", "de", {"a": 1}) == "1 Apfel"
    assert render("{p} {p|కొన్నాడు|కొన్నది}", "te", {"p": "సీత", "p_g": "f"}) == "సీత కొన్నది"


def test_summarization_rows_are_real_parallel_text_in_their_language(data):
    from evaluation.fidelity import detect_language

    for lang in ALL_LANGUAGES:
        for row in data["summarization", lang, "test"]:
            assert set(row) == {"id", "text", "summary"} and len(row["summary"]) < len(row["text"])
            assert not re.search(r"\{|\}|\|", row["text"] + row["summary"]), row  # no template leftovers
            assert detect_language(row["text"]) == lang and detect_language(row["summary"]) == lang, (lang, row)
            if lang in SCRIPTS:
                assert re.search(SCRIPTS[lang], row["summary"])
    numbers = [re.findall(r"\d+", row["summary"]) for row in data["summarization", "en", "test"]]
    for lang in ALL_LANGUAGES:  # the same story, with the same numbers, in every language
        assert [re.findall(r"\d+", row["summary"]) for row in data["summarization", lang, "test"]] == numbers, lang


def test_every_reference_response_meets_its_instructions_and_is_in_its_language(data):
    from evaluation.fidelity import detect_language
    from evaluation.instructions import check, problems

    for lang in ALL_LANGUAGES:
        for row in data["instruction", lang, "test"]:
            assert not problems(row["instructions"]), row
            assert all(check(row["response"], row["instructions"], lang)), (lang, row)
            assert detect_language(row["prompt"]) == lang and detect_language(row["response"]) in (lang, None), (lang, row)
    kinds = {item["kind"] for row in data["instruction", "en", "train"] for item in row["instructions"]}
    assert kinds == {"bullets", "keywords", "max_words", "json", "forbidden", "language"}
    for lang in ALL_LANGUAGES:  # parallel: the same instructions in every language (limits per script aside)
        assert [[i["kind"] for i in row["instructions"]] for row in data["instruction", lang, "test"]] == \
               [[i["kind"] for i in row["instructions"]] for row in data["instruction", "en", "test"]]
