"""Real datasets → the canonical parallel layout ``DATA_DIR/{task}/{lang}/{split}.jsonl``, once, before any job starts.

Each task declares which source formats it reads (``Task.sources``, ``training.tasks``); the readers of the published
layouts are in ``training.loaders``. Here every split is read, aligned (the same ids in every language), drawn down to
a source's ``sample``, and validation rows are held out of train by a seeded draw (docs/studies.md §1a: 200 for math,
150 for API calling). Converting once keeps one reading path for training and evaluation and lets alignment be
checked up front; what was read, skipped and kept goes to ``conversion.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from training.errors import DataError
from training.loaders import SplitCounts, draw_priority

if TYPE_CHECKING:
    from training.tasks import Task


def check_same_ids(by_lang: dict[str, list[dict]], where: str) -> None:
    """Parallel data: every language holds the same ids (a mismatch is counted, not guessed around)."""
    reference_lang, reference = next(iter(by_lang.items()))
    reference_ids = [r["id"] for r in reference]
    if not reference_ids:
        raise DataError(f"{where}: no {reference_lang} rows; check the language codes and the file")
    if len(set(reference_ids)) != len(reference_ids):
        raise DataError(f"{where}: {len(reference_ids) - len(set(reference_ids))} duplicate {reference_lang} ids; ids must be unique")
    for lang, rows in by_lang.items():
        ids = {r["id"] for r in rows}
        missing, extra = set(reference_ids) - ids, ids - set(reference_ids)
        if missing or extra or len(rows) != len(reference_ids):
            raise DataError(f"{where}: {lang} is not aligned with {reference_lang} ({len(rows)} vs {len(reference_ids)} rows; "
                            f"{len(missing)} {reference_lang} id(s) missing in {lang}, e.g. {sorted(missing)[:3]}; "
                            f"{len(extra)} extra); parallel data needs the same ids in every language")


def read_split(source: dict, task: Task, split: str, languages: list[str], seed: int = 0,
               counts: SplitCounts | None = None) -> dict[str, list[dict]]:
    """One split of a real dataset in the study's languages, read by the reader ``task`` declares for its format:
    aligned, drawn down to ``sample`` parallel rows when the source names a sample, checked against
    ``expected_rows``; what was read, skipped and kept goes to ``counts``."""
    fmt, path, sample = source["format"], source["path"], source.get("sample")
    counts = counts if counts is not None else SplitCounts()
    if fmt not in task.sources or split not in task.sources[fmt].splits:
        raise DataError(f"{path}: format {fmt!r} provides no {task.name} {split} data; {task.name} {split} formats: "
                        f"{', '.join(f for f, s in task.sources.items() if split in s.splits) or 'none'}")
    reader = task.sources[fmt]
    by_lang = reader.read(source, split, languages, seed, counts)
    where = f"{path} ({fmt}, {task.name} {split})"
    if not reader.samples_itself:  # (a streaming reader counts and draws as it reads)
        counts.read.update({lang: len(rows) for lang, rows in by_lang.items()})
    check_same_ids(by_lang, where)
    if sample is not None and not reader.samples_itself:
        available = len(next(iter(by_lang.values())))
        if sample > available:
            raise DataError(f"{where}: sample={sample} but the source has {available} parallel rows per language; "
                            "lower the sample")
        drawn = set(sorted((r["id"] for r in next(iter(by_lang.values()))), key=lambda i: draw_priority(seed, i))[:sample])
        by_lang = {lang: [r for r in rows if r["id"] in drawn] for lang, rows in by_lang.items()}
    expected = source.get("expected_rows")
    for lang, rows in by_lang.items():
        counts.kept[lang] = len(rows)
        if expected is not None and len(rows) != expected:
            raise DataError(f"{where}: {len(rows)} {lang} rows, the study expects {expected} (expected_rows); check that "
                            "the files are complete and the right release, or correct expected_rows")
    # The polymix layout wants the same ids in the same order in every language; files need not agree on order.
    return {lang: sorted(rows, key=lambda r: r["id"]) for lang, rows in by_lang.items()}


def hold_out(rows: list[dict], size: int, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, validation): ``size`` rows drawn by a seeded permutation of the ids, the same in every language."""
    ids = sorted(r["id"] for r in rows)
    random.Random(seed).shuffle(ids)
    held = set(ids[:size])
    return [r for r in rows if r["id"] not in held], [r for r in rows if r["id"] in held]


CONVERSION_FILE = "conversion.json"  # in a prepared data directory: per task and split, rows read / skipped / kept


def prepare_sources(sources: dict[str, dict], train_languages: list[str], test_languages: list[str],
                    cache_root: str | Path, seed: int = 0) -> Path:
    """Convert every task's sources once into DATA_DIR/{task}/{lang}/{split}.jsonl (content-addressed, atomic)."""
    # Imported here, not above: the tasks declare their readers from this module.
    from training.tasks import get_task

    key = json.dumps([sources, sorted(train_languages), sorted(test_languages), seed], sort_keys=True)
    target = Path(cache_root) / "data" / f"prepared-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    if (target / "COMPLETE").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".staging-"))
    conversion = {}
    try:
        for task, spec in sources.items():
            train_counts, test_counts = SplitCounts(), SplitCounts()
            train = read_split(spec["train"], get_task(task), "train", train_languages, seed, train_counts)
            test = read_split(spec["test"], get_task(task), "test", test_languages, seed, test_counts)
            conversion[task] = {"train": {"format": spec["train"]["format"], "path": spec["train"]["path"],
                                          **train_counts.as_dict(), "validation": spec["validation_size"]},
                                "test": {"format": spec["test"]["format"], "path": spec["test"]["path"],
                                         **test_counts.as_dict()}}
            check_splits = get_task(task).check_splits
            if check_splits and (problem := check_splits(next(iter(train.values())), next(iter(test.values())))):
                raise DataError(f"{spec['test']['path']}: {problem}")
            for lang, rows in train.items():
                fit, validation = hold_out(rows, spec["validation_size"], seed)
                _write_jsonl(staging / task / lang / "train.jsonl", fit)
                _write_jsonl(staging / task / lang / "validation.jsonl", validation)
            for lang, rows in test.items():
                _write_jsonl(staging / task / lang / "test.jsonl", rows)
        (staging / CONVERSION_FILE).write_text(json.dumps(conversion, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (staging / "COMPLETE").write_text(key + "\n")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        os.rename(staging, target)
    except OSError:  # another process finished first: keep its copy
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
