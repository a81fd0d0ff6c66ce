"""Tests for training.sample_data: parallel, deterministic multilingual sample data for the four tasks."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from training.languages import ALL_LANGUAGES
from training.sample_data import SPLITS, write_sample_data
from training.sample_render import plural_index, render
from training.sample_tables import API_CATALOGUE, API_NAME_VERBS, MATH_PROBLEMS, NAMES
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


def test_default_counts(sample_dir):
    for task in TASKS:
        for lang in ("en", "th"):
            assert [len(read(sample_dir, task, lang, s)) for s in SPLITS] == [1200, 120, 120]


def test_no_evaluation_prompt_is_a_training_prompt_in_any_task_or_language(sample_dir):
    """As in the real datasets, a test (or validation) score on the sample data is not memorisation: the default sample
    data, per task and language, holds no prompt in two splits (the prompt is what the model reads)."""
    for name, task in TASKS.items():
        for lang in ALL_LANGUAGES:
            prompts = {split: {task.prompt(row, lang) for row in read(sample_dir, name, lang, split)} for split in SPLITS}
            assert not prompts["test"] & prompts["train"], (name, lang)
            assert not prompts["validation"] & prompts["train"], (name, lang)
            assert not prompts["test"] & prompts["validation"], (name, lang)
            # and the training split still varies: no task learns from a handful of prompts
            assert len(prompts["train"]) >= 250, (name, lang, len(prompts["train"]))


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


def test_train_validation_and_test_apis_are_disjoint(data):
    """Validation asks for unseen APIs, as the test does: choosing a checkpoint by it rewards calling an API from its
    description, not recalling the train APIs."""
    names = {split: {row["api_name"] for row in data["api", "en", split]} for split in SPLITS}
    assert shared_apis(names) == []
    assert len(names["test"]) >= 6 and len(names["validation"]) >= 3
    planted = {**names, "validation": names["validation"] | {sorted(names["train"])[0]}}
    assert shared_apis(planted) == [("train", "validation", sorted(names["train"])[0])]


def test_train_apis_are_renamed_per_example_with_words_of_no_evaluation_api(data):
    """18 train APIs would be memorised (their names and keys), so each train example names its API afresh, and half
    rename its keys too: what the model learns is to copy the signature its description gives."""
    train = data["api", "en", "train"]
    assert len({row["api_name"] for row in train}) > len(train) // 2
    for row in train + data["api", "en", "test"]:
        assert row["api_doc"].startswith(f"{row['api_name']}({', '.join(row['arguments'])}):"), row
    catalogue_keys = {key for api in API_CATALOGUE for key in api["args"]}
    renamed = sum(not set(row["arguments"]) <= catalogue_keys for row in train) / len(train)
    assert 0.4 < renamed < 0.6
    evaluation = {api["name"] for api in API_CATALOGUE if api["split"] != "train"}
    assert evaluation_words_in({row["api_name"] for row in train}, evaluation) == set()
    # Half the words are made up, so a call's first token is not always one of the verb list's (a test API's name
    # starts with pieces no list word starts with).
    made_up = sum(re.match(r"[A-Z][a-z]*", row["api_name"])[0] not in API_NAME_VERBS for row in train) / len(train)
    assert 0.35 < made_up < 0.65
    assert evaluation_words_in({"FetchPopulationLamp"}, evaluation) == {"Population"}  # a planted leak is caught


def test_the_first_rows_of_an_evaluation_split_spread_evenly_over_its_apis(data):
    """A study scores the first eval.test_examples rows: they take the test APIs in turn, not as drawn."""
    test_apis = {api["name"] for api in API_CATALOGUE if api["split"] == "test"}
    for lang in ("en", "ja"):
        rows = data["api", lang, "test"]
        assert {row["api_name"] for row in rows[:len(test_apis)]} == test_apis  # the first 8 rows: 8 APIs
        seen: Counter = Counter()
        turns = []  # the k-th row of an API comes in the k-th turn
        for row in rows:
            seen[row["api_name"]] += 1
            turns.append(seen[row["api_name"]])
        assert turns == sorted(turns), turns


def evaluation_words_in(names: set[str], evaluation_names: set[str]) -> set[str]:
    """The words of validation and test API names that a train name is made of (Get and Set, which every API name
    might start with, included)."""
    def words(name: str) -> set[str]:
        return set(re.findall(r"[A-Z][a-z]*", name))
    return set().union(*map(words, names)) & set().union(*map(words, evaluation_names))


def shared_apis(names: dict[str, set[str]]) -> list[tuple[str, str, str]]:
    return [(a, b, name) for a, b in (("train", "validation"), ("train", "test"), ("validation", "test"))
            for name in sorted(names[a] & names[b])]


def without_names(text: str, lang: str) -> str:
    for name, _gender in sorted(NAMES[lang], key=lambda entry: -len(entry[0])):
        text = text.replace(name, "_")
    return text


def twins(train: list[dict], evaluation: list[dict], field: str, lang: str) -> set[str]:
    """Evaluation texts that a training row repeats but for the people named in it: the same problem."""
    return {without_names(row[field], lang) for row in evaluation} & {without_names(row[field], lang) for row in train}


@pytest.mark.parametrize("task, field", [("math", "question"), ("summarization", "summary"), ("summarization", "text")])
def test_no_evaluation_problem_has_a_training_twin_that_differs_only_in_its_names(sample_dir, task, field):
    """Splits are drawn by problem (template and values), not by rendered prompt: a math test question whose numbers
    and answer a training row shares under another name would score memorisation."""
    for lang in ("en", "es", "ja", "bn"):
        train = read(sample_dir, task, lang, "train")
        for split in ("validation", "test"):
            assert twins(train, read(sample_dir, task, lang, split), field, lang) == set(), (lang, split)
    test_row = read(sample_dir, task, "en", "test")[0]
    name = next(name for name, _ in NAMES["en"] if name in test_row[field])
    other = next(other for other, _ in NAMES["en"] if other != name)
    planted = train + [{**test_row, field: test_row[field].replace(name, other)}]
    assert len(twins(planted, read(sample_dir, task, "en", "test"), field, "en")) == 1


def test_a_summary_with_the_template_right_and_the_facts_wrong_scores_near_zero_on_facts(sample_dir):
    """ROUGE-L rewards a templated summary's given words; the facts score what the summary must get right."""
    from evaluation.scorers import score_summary

    rows = read(sample_dir, "summarization", "en", "test")
    row = rows[0]
    other = next(r for r in rows if r["summary"] != row["summary"] and len(r["facts"]) == len(row["facts"])
                 and without_names(r["summary"], "en").split()[1:4] == without_names(row["summary"], "en").split()[1:4]
                 and not set(r["facts"]) & set(row["facts"]))
    template_only = score_summary(other["summary"], row, "en")
    assert template_only["facts"] == 0.0 and template_only["acc"] > 0.5
    assert score_summary(row["summary"], row, "en")["facts"] == 1.0


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
            assert set(row) == {"id", "text", "summary", "facts"} and len(row["summary"]) < len(row["text"])
            assert row["facts"] and all(fact in row["summary"] for fact in row["facts"]), (lang, row)
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


def test_tables_load_into_the_structures_the_generator_uses():
    from training import sample_tables as tables

    genders = [gender for _, gender in tables.NAMES["en"]]
    for lang in ALL_LANGUAGES:
        assert [gender for _, gender in tables.NAMES[lang]] == genders, lang  # [name, gender] pairs, parallel
        assert tables.MATH_ANSWER[lang] and tables.MATH_TWO_STEP[lang] and tables.FRUITS[lang]
        for kind, by_lang in tables.API_VALUES.items():
            assert len(by_lang.get(lang, by_lang["en"])) == len(by_lang["en"]), (kind, lang)
        for story in tables.STORIES:
            text, summary = story[lang]
            assert isinstance(text, str) and isinstance(summary, str)
        for request in tables.REQUESTS:
            assert len(request[lang]) in (2, 3) and all(isinstance(part, str) for part in request[lang])
    for problem in MATH_PROBLEMS:
        assert all(isinstance(lo, int) and isinstance(hi, int) and lo <= hi for lo, hi in problem["vars"].values())
        assert all(solution is None or isinstance(solution, str) for _, solution in problem["text"].values())
    for request in tables.REQUESTS:
        low, high = request.get("n", (18, 80))
        assert isinstance(low, int) and low <= high
    assert all(isinstance(values, list) and values for values in
               (tables.EMAIL_USERS, tables.USERNAMES, tables.STOCK_SYMBOLS, tables.CURRENCIES))
    assert tables.load_tables() == tables.load_tables(tables.DATA_DIR)  # the files hold every table, and only those


def test_a_missing_table_is_an_error_naming_the_file(tmp_path):
    from training.sample_tables import DATA_DIR, load_tables

    copy = shutil.copytree(DATA_DIR, tmp_path / "sample_templates")
    content = json.loads((copy / "math.json").read_text(encoding="utf-8"))
    del content["MATH_TWO_STEP"]
    (copy / "math.json").write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValueError, match=r"math\.json: expected an object with the tables MATH_ANSWER, MATH_TWO_STEP"):
        load_tables(copy)


def test_the_cache_key_follows_the_templates_content(tmp_path, monkeypatch):
    from training import sources
    from training.sample_tables import DATA_DIR

    key = sources.sample_data_key(0)
    assert sources.sample_data_key(0) == key and sources.sample_data_key(1) != key
    copy = shutil.copytree(DATA_DIR, tmp_path / "sample_templates")
    monkeypatch.setattr(sources, "SAMPLE_DATA_SOURCES",
                        tuple(copy if path == DATA_DIR else path for path in sources.SAMPLE_DATA_SOURCES))
    assert sources.sample_data_key(0) == key  # the same content, wherever it lies: the same key

    math = copy / "math.json"
    original = math.read_text(encoding="utf-8")
    assert " The answer is {r}." in original
    math.write_text(original.replace(" The answer is {r}.", " So the answer is {r}."), encoding="utf-8")
    edited = sources.sample_data_key(0)
    assert edited != key
    math.write_text(original, encoding="utf-8")
    assert sources.sample_data_key(0) == key
    (copy / "extra.json").write_text("{}", encoding="utf-8")  # a file added to the templates counts too
    assert sources.sample_data_key(0) not in (key, edited)

    # the cache folder is named by the key: a cached copy under the old key is not reused
    (copy / "extra.json").unlink()
    math.write_text(original.replace(" The answer is {r}.", " So the answer is {r}."), encoding="utf-8")
    stale = tmp_path / "cache" / "data" / f"sample-{key[:16]}-seed0"
    fresh = tmp_path / "cache" / "data" / f"sample-{edited[:16]}-seed0"
    for folder in (stale, fresh):  # marked complete, so that sample_data_dir returns them without writing
        folder.mkdir(parents=True)
        (folder / "COMPLETE").write_text("ok\n")
    assert sources.sample_data_dir(tmp_path / "cache", seed=0) == fresh


def test_every_generator_source_exists():
    from training import sources

    files = dict(sources._source_files())
    assert {"sample_data.py", "sample_tables.py", "sample_templates/math.json", "sample_templates/names.json"} <= set(files)
    assert all(path.is_file() for path in files.values())
