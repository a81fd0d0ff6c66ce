"""Parallel data sources: per-language files loaded through HF ``datasets``, checked for alignment.

Layout (the shipped sample data and any local copy of real data): ``DATA_DIR/{task}/{lang}/{split}.jsonl``.
Row ids must be the same, in the same order, in every language of a task and split.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import datasets

from training import languages as language_registry
from training import sample_data, sample_tables
from training import tasks as task_registry
from training.errors import DataError
from training.sample_data import write_sample_data
from training.tasks import get_task

# What the sample data is made from: every file of a listed folder (the templates) and each listed module (the
# generator, its table loader and the language list it writes). The cache key hashes their bytes, so editing a template
# or the generator writes fresh data instead of reusing a stale copy. A module or folder the generator comes to depend
# on belongs here.
SAMPLE_DATA_SOURCES: tuple[Path, ...] = (
    sample_tables.DATA_DIR,
    Path(sample_tables.__file__),
    Path(sample_data.__file__),
    Path(language_registry.__file__),
    Path(task_registry.__file__).parent,  # each task's generator (draw and render) lives in its module
)


def _source_files() -> list[tuple[str, Path]]:
    """(name, path) of every file of :data:`SAMPLE_DATA_SOURCES`: a listed file by its name, a folder's files by folder
    name / relative path (caches and dotfiles aside), in a stable order."""
    files = []
    for source in SAMPLE_DATA_SOURCES:
        if not source.is_dir():
            files.append((source.name, source))
            continue
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source)
            if path.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
                files.append((f"{source.name}/{relative.as_posix()}", path))
    return files


@functools.lru_cache(maxsize=None)  # hashed once per process: every run's identity asks for it
def sample_data_version(seed: int = 0) -> str:
    """The sample data's version: the start of its cache key (edited templates or generator: different data)."""
    return sample_data_key(seed)[:16]


def sample_data_key(seed: int = 0) -> str:
    """The sample data's cache key: sha256 over the names and bytes of the files of :data:`SAMPLE_DATA_SOURCES`, and
    the seed."""
    digest = hashlib.sha256()
    for name, path in _source_files():
        content = path.read_bytes()
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(content)
    digest.update(f"seed\0{seed}".encode())
    return digest.hexdigest()


def sample_data_dir(cache_root: str | Path, seed: int = 0) -> Path:
    """Write the shipped-generator sample data once into the cache (atomically) and return its path.

    The folder is named by the content hash of the templates and generator (:func:`sample_data_key`) and the seed,
    so a changed template or generator gets a new folder rather than the stale one."""
    target = Path(cache_root) / "data" / f"sample-{sample_data_key(seed)[:16]}-seed{seed}"
    if not (target / "COMPLETE").exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".staging-"))
        write_sample_data(staging, seed=seed)
        (staging / "COMPLETE").write_text("ok\n")
        try:
            os.rename(staging, target)
        except OSError:  # another process finished first: keep its copy
            shutil.rmtree(staging, ignore_errors=True)
    return target


def split_path(data_dir: str | Path, task: str, lang: str, split: str) -> Path:
    return Path(data_dir) / task / lang / f"{split}.jsonl"


def load_split(data_dir: str | Path, task: str, lang: str, split: str) -> datasets.Dataset:
    path = split_path(data_dir, task, lang, split)
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected {task} {split} data for language {lang!r} "
                        f"in the layout DATA_DIR/{{task}}/{{lang}}/{{split}}.jsonl")
    _check_jsonl(path)
    dataset = datasets.load_dataset("json", data_files=str(path), split="train", keep_in_memory=True)
    missing = [f for f in get_task(task).required_fields if f not in dataset.column_names]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; every {task} row needs "
                        f"{', '.join(get_task(task).required_fields)}")
    # A training row without a field gets None from the JSON loader and would train on an empty prompt or target.
    # (Test rows may leave the target empty: MGSM gives the question and the answer number, no worked solution.)
    for field in get_task(task).required_fields if split != "test" else ():
        empty = [row for row, value in enumerate(dataset[field], start=1) if value is None or str(value).strip() == ""]
        if empty:
            raise DataError(f"{path}: row {empty[0]} has no {field!r} ({len(empty)} such row(s)); fill in or remove "
                            f"those rows")
    return dataset


def _check_jsonl(path: Path) -> None:
    """Name the first broken row before HF datasets raises an opaque Arrow error."""
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(f"{path}: row {line_number} is not valid UTF-8 ({error.reason} at byte {error.start} of "
                                "the row); re-encode the file as UTF-8") from None
            if not line.strip():
                continue
            try:
                json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{path}: row {line_number} is not valid JSON ({error.msg}); fix or remove that row") from None


def load_parallel(data_dir: str | Path, task: str, split: str, languages: list[str] | tuple[str, ...]) -> dict[str, datasets.Dataset]:
    """Load one split of a task in several languages and check that the ids align row by row."""
    by_lang = {lang: load_split(data_dir, task, lang, split) for lang in languages}
    check_alignment(by_lang, f"{Path(data_dir) / task}/{{lang}}/{split}.jsonl")
    return by_lang


def check_alignment(by_lang: dict[str, datasets.Dataset], where: str) -> None:
    reference_lang, reference = next(iter(by_lang.items()))
    reference_ids = reference["id"]
    if len(set(reference_ids)) != len(reference_ids):
        raise DataError(f"{where.format(lang=reference_lang)}: {len(reference_ids) - len(set(reference_ids))} duplicate ids; ids must be unique")
    for lang, dataset in by_lang.items():
        ids = dataset["id"]
        if ids == reference_ids:
            continue
        missing = set(reference_ids) - set(ids)
        extra = set(ids) - set(reference_ids)
        detail = (f"{len(missing)} id(s) of {reference_lang} missing (e.g. {sorted(missing)[:3]}), {len(extra)} extra"
                  if missing or extra else "same ids in a different order")
        raise DataError(f"{where.format(lang=lang)}: not aligned with {reference_lang} "
                        f"({len(ids)} vs {len(reference_ids)} rows; {detail}); parallel data needs the same ids in the same order in every language")
