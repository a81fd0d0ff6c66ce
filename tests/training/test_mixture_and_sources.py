import json

import pytest

from training.errors import DataError
from training.mixture import build_mixture, ratio_counts
from training.sources import load_parallel


def test_ratio_counts_exact():
    counts = ratio_counts({"en": 0.4, "es": 0.15, "ja": 0.15, "bn": 0.15, "sw": 0.15}, 1001)
    assert sum(counts.values()) == 1001
    assert counts["en"] == 400 or counts["en"] == 401
    assert all(abs(counts[lang] - 1001 * r) < 1 for lang, r in {"es": 0.15, "ja": 0.15}.items())


def test_augmentation_mixture_is_parallel_and_seeded(sample_dir):
    sources = load_parallel(sample_dir, "math", "train", ["en", "es", "ja"])
    mixture = build_mixture(sources, {"en": 50, "es": 50, "ja": 50}, seed=3)
    assert len(mixture) == 150
    by_lang = {lang: sorted(r["id"] for r in mixture if r["lang"] == lang) for lang in ("en", "es", "ja")}
    assert by_lang["en"] == by_lang["es"] == by_lang["ja"]  # the same examples, translated
    again = build_mixture(sources, {"en": 50, "es": 50, "ja": 50}, seed=3)
    assert again["id"] == mixture["id"] and again["lang"] == mixture["lang"]
    other = build_mixture(sources, {"en": 50, "es": 50, "ja": 50}, seed=4)
    assert other["id"] != mixture["id"]


def test_mixture_larger_than_source_is_refused(sample_dir):
    sources = load_parallel(sample_dir, "api", "validation", ["en"])
    with pytest.raises(DataError, match="lower the count"):
        build_mixture(sources, {"en": len(sources["en"]) + 1}, seed=0)


def test_disjoint_content_gives_every_language_its_own_problems(sample_dir):
    sources = load_parallel(sample_dir, "math", "train", ["en", "es", "ja"])
    pool = ["en", "es", "ja"]
    mixture = build_mixture(sources, {"en": 50, "es": 50, "ja": 50}, seed=3, pool=pool)
    by_lang = {lang: {r["id"] for r in mixture if r["lang"] == lang} for lang in pool}
    assert all(len(ids) == 50 for ids in by_lang.values())
    assert not (by_lang["en"] & by_lang["es"] or by_lang["en"] & by_lang["ja"] or by_lang["es"] & by_lang["ja"])
    english_only = build_mixture(sources, {"en": 50}, seed=3, pool=pool)
    assert set(english_only["id"]) == by_lang["en"]  # mixtures that share a language share its examples
    share = len(sources["en"]) // 3
    build_mixture(sources, {"ja": share}, seed=3, pool=pool)  # the last block is whole
    with pytest.raises(DataError, match="of its own with mixture.content: disjoint"):
        build_mixture(sources, {"es": share + 1}, seed=3, pool=pool)


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_misaligned_ids_name_file_and_counts(tmp_path):
    row = lambda i: {"id": f"m{i}", "question": "q", "solution": "1", "answer": "1"}
    _write(tmp_path / "math/en/train.jsonl", [row(i) for i in range(5)])
    _write(tmp_path / "math/es/train.jsonl", [row(i) for i in range(4)])
    with pytest.raises(DataError, match=r"math/es/train.jsonl: not aligned with en \(4 vs 5 rows; 1 id\(s\) of en missing"):
        load_parallel(tmp_path, "math", "train", ["en", "es"])


def test_broken_row_and_missing_file(tmp_path):
    path = tmp_path / "math/en/train.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text('{"id": "a", "question": "q", "solution": "1", "answer": "1"}\n{"id": broken\n')
    with pytest.raises(DataError, match="row 2 is not valid JSON"):
        load_parallel(tmp_path, "math", "train", ["en"])
    with pytest.raises(DataError, match="file not found"):
        load_parallel(tmp_path, "math", "train", ["de"])
