"""Conversion of the committed realistic fixtures (tests/fixtures: each real dataset's published layout), with what
the real releases hold and the sample data has not: mCoT-MATH rows whose answer is no number, MGSM rows without a
solution, API-Bank training rows without an id, Aya's ISO 639-3 codes in Parquet."""

import json
import re
from pathlib import Path

import pytest

from training.errors import DataError
from training.loaders import draw_priority, read_mcot_math
from training.preparation import CONVERSION_FILE, prepare_sources
from training.sources import load_parallel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def math_and_api(**math_train):
    return {
        "math": {"train": {"format": "mcot_math", "path": str(FIXTURES / "mcot_math"), "file": "lang-id/mcot-math.json",
                           **math_train},
                 "test": {"format": "mgsm", "path": str(FIXTURES / "mgsm"), "expected_rows": 12}, "validation_size": 8},
        "api": {"train": {"format": "mapicall_bank", "path": str(FIXTURES / "mapicall_bank"), "expected_rows": 60},
                "test": {"format": "mapicall_bank", "path": str(FIXTURES / "mapicall_bank"), "expected_rows": 12},
                "validation_size": 8},
    }


def test_mcot_rows_without_a_numeric_answer_are_skipped_and_counted_per_language(tmp_path):
    data_dir = prepare_sources(math_and_api(), ["en", "es"], ["en", "es", "te"], tmp_path)
    counts = json.loads((data_dir / CONVERSION_FILE).read_text(encoding="utf-8"))["math"]["train"]
    assert counts["read"] == {"en": 71, "es": 71}
    # six MATH-style answers (\frac, \sqrt, an interval, \text, 3/5, x^2 + 1) everywhere, one spelled out in es only
    assert counts["skipped"]["final answer is not a number"] == {"en": 6, "es": 7}
    assert counts["skipped"]["numeric in some languages only"] == {"en": 1}
    assert counts["kept"] == {"en": 64, "es": 64} and counts["validation"] == 8
    train = load_parallel(data_dir, "math", "train", ["en", "es"])
    assert len(train["en"]) == 56 and train["en"]["id"] == train["es"]["id"]
    assert train["en"][0]["solution"].endswith(f"The answer is: {train['en'][0]['answer']}")


def test_mgsm_test_rows_hold_no_solution_and_api_bank_training_rows_get_their_position_as_id(tmp_path):
    data_dir = prepare_sources(math_and_api(), ["en", "es"], ["en", "es", "te"], tmp_path)
    test = load_parallel(data_dir, "math", "test", ["en", "es", "te"])
    assert len(test["te"]) == 12 and set(test["en"]["solution"]) == {""}
    api_train = load_parallel(data_dir, "api", "train", ["en", "es"])
    api_test = load_parallel(data_dir, "api", "test", ["en", "es", "te"])
    assert all(i.startswith("train-") for i in api_train["es"]["id"]) and len(api_train["en"]) == 52
    assert all(re.fullmatch(r"[A-Za-z]+-level-1-\d+\.jsonl:\d+", i) for i in api_test["te"]["id"])  # file:turn
    assert not {c.split("(")[0] for c in api_train["en"]["call"]} & {c.split("(")[0] for c in api_test["en"]["call"]}


def test_a_sample_draws_the_same_ids_in_every_language_seeded_by_the_study():
    source = dict(path=str(FIXTURES / "mcot_math"), languages=["en", "es", "ja"], file="lang-id/mcot-math.json", sample=20)
    drawn = read_mcot_math(**source, seed=0)
    assert [len(rows) for rows in drawn.values()] == [20, 20, 20]
    ids = [r["id"] for r in drawn["en"]]
    assert ids == [r["id"] for r in drawn["ja"]]
    assert ids != [r["id"] for r in read_mcot_math(**source, seed=1)["en"]]
    everything = read_mcot_math(str(FIXTURES / "mcot_math"), ["en", "es", "ja"], "lang-id/mcot-math.json")["en"]
    lowest = sorted((r["id"] for r in everything), key=lambda i: draw_priority(0, i))[:20]
    assert sorted(ids) == sorted(lowest)  # the streamed draw is the exact lowest-ranked 20 of all numeric rows


def test_a_sample_larger_than_the_numeric_parallel_rows_is_refused():
    with pytest.raises(DataError, match=r"64 examples have a numeric final answer in every one of en, es, fewer than "
                                        r"data.sources.math.train.sample=100"):
        read_mcot_math(str(FIXTURES / "mcot_math"), ["en", "es"], "lang-id/mcot-math.json", sample=100)


def test_the_counts_the_study_expects_are_checked_and_a_mismatch_named(tmp_path):
    sources = math_and_api()
    sources["math"]["test"]["expected_rows"] = 250  # the MGSM release: 250 per language
    with pytest.raises(DataError, match=r"mgsm \(mgsm, math test\): 12 en rows, the study expects 250 \(expected_rows\)"):
        prepare_sources(sources, ["en", "es"], ["en", "es", "te"], tmp_path)
    assert not list((tmp_path / "data").glob("prepared-*"))  # nothing half-written left behind


def test_xlsum_and_aya_dolly_fixtures_convert(tmp_path):
    sources = {"summarization": {"train": {"format": "xlsum", "path": str(FIXTURES / "xlsum")},
                                 "test": {"format": "xlsum", "path": str(FIXTURES / "xlsum")}, "validation_size": 4},
               "instruction": {"train": {"format": "aya_dolly", "path": str(FIXTURES / "aya"), "file": "translated_dolly"},
                               "test": {"format": "aya_dolly", "path": str(FIXTURES / "aya"),
                                        "file": "dolly_machine_translated"}, "validation_size": 4}}
    data_dir = prepare_sources(sources, ["en", "es"], ["en", "es", "ru"], tmp_path)
    assert len(load_parallel(data_dir, "summarization", "train", ["en", "es"])["es"]) == 68
    test = load_parallel(data_dir, "instruction", "test", ["en", "es", "ru"])
    assert len(test["ru"]) == 8 and test["ru"]["instructions"][0] == [{"kind": "language", "n": None, "words": None,
                                                                      "text": None, "lang": None}]
    counts = json.loads((data_dir / CONVERSION_FILE).read_text(encoding="utf-8"))
    assert counts["instruction"]["train"]["kept"] == {"en": 72, "es": 72} and counts["summarization"]["test"]["read"]["ru"] == 8
