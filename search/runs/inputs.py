"""Before any job starts: the data a study reads (given, converted from the real datasets, or the sample data),
checked, and the models it trains (hub ids or paths, polymix's pre-trained tiny bases, or random-init tiny models
built locally).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from evaluation.scorers import scorer_for
from search.study import Study
from search.tracking import Tracker, check_tracking_server, default_tracking_uri, split_credentials
from training.errors import ConfigError, DataError
from training.mixture import disjoint_share
from training.models import base_dir, base_version, make_tiny_model
from training.preparation import CONVERSION_FILE, prepare_sources
from training.sources import load_parallel, sample_data_dir, split_path
from training.tasks import get_task

CACHE_ENV = "POLYMIX_CACHE"
TINY_MODEL_CODE = Path(__file__).resolve().parents[2] / "training" / "models.py"


def machine_cache() -> Path | None:
    """Where what polymix generates from its own code alone (the sample data, tiny models whose tokenizer learned
    from it) is built once per machine, to be copied into each work dir: ``POLYMIX_CACHE``, default
    ``~/.cache/polymix``; set it empty to build in every work dir instead."""
    value = os.environ.get(CACHE_ENV)
    if value == "":
        return None
    return Path(value).expanduser() if value else Path.home() / ".cache" / "polymix"


def copy_once(source: Path, target: Path) -> Path:
    """``source`` copied to ``target`` unless it is there (atomically: a copy is whole or absent)."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".staging-"))
    shutil.copytree(source, staging, dirs_exist_ok=True)
    try:
        os.rename(staging, target)
    except OSError:  # copied concurrently by another process: keep the first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_data_dir(study: Study, workdir: Path) -> Path:
    """Where the trials read their data: a given layout, real datasets converted once, or the sample data. The work
    dir holds its own copy of generated data (a cluster's nodes read it there)."""
    if study.data.path:
        return Path(study.data.path).resolve()
    if study.data.sources:
        trained = study.training_languages()
        sources = {task: spec.model_dump() for task, spec in study.data.sources.items() if task in study.tasks}
        return prepare_sources(sources, trained, study.eval.language_list(), workdir, study.seed).resolve()
    cache = machine_cache()
    if cache is None:
        return sample_data_dir(workdir, study.data.sample_seed).resolve()
    cached = sample_data_dir(cache, study.data.sample_seed)
    return copy_once(cached, workdir / "data" / cached.name).resolve()


def conversion_lines(data_dir: Path) -> list[str]:
    """What converting the real datasets read, skipped and kept, one line per task and split (none for sample data
    or a given layout)."""
    path = data_dir / CONVERSION_FILE
    if not path.is_file():
        return []
    lines = []
    for task, splits in json.loads(path.read_text(encoding="utf-8")).items():
        for split, counts in splits.items():
            kept = ", ".join(f"{lang} {n}/{counts['read'].get(lang, n)}" for lang, n in counts["kept"].items())
            skipped = "; ".join(f"{reason}: " + ", ".join(f"{lang} {n}" for lang, n in by_lang.items())
                                for reason, by_lang in counts["skipped"].items())
            held = f", {counts['validation']} per language held out for validation" if "validation" in counts else ""
            lines.append(f"{task} {split} ({counts['format']}): kept/read {kept}{held}" + (f"; skipped {skipped}" if skipped else ""))
    return lines


def log_conversion(tracker: Tracker, parent_run_id: str, data_dir: Path) -> None:
    """The conversion counts on the parent run (``data/conversion.json``), beside the runs they fed."""
    if (data_dir / CONVERSION_FILE).is_file():
        tracker.log_text(parent_run_id, (data_dir / CONVERSION_FILE).read_text(encoding="utf-8"), f"data/{CONVERSION_FILE}")


def check_data(study: Study, data_dir: Path) -> None:
    """Alignment and size checks on every split the study will read, before any job starts."""
    trained = study.training_languages()
    for task in study.tasks:
        train = load_parallel(data_dir, task, "train", trained)
        validation = load_parallel(data_dir, task, "validation", trained)
        test = load_parallel(data_dir, task, "test", study.eval.language_list())
        if row_problems := scorer_for(get_task(task)).row_problems:  # every example must be one the scorer can check
            for split, by_lang in (("train", train), ("validation", validation), ("test", test)):
                for lang, rows in by_lang.items():
                    for row, record in enumerate(rows, start=1):
                        if found := row_problems(record):
                            raise DataError(f"{split_path(data_dir, task, lang, split)}: row {row}: {found[0]}")
        check_sizes(study, task, len(next(iter(train.values()))))


def check_sizes(study: Study, task: str, parallel: int) -> None:
    """Every mixture's counts, and a searched mixture's whole budget, within what each language has of ``task``'s
    ``parallel`` train ids: all of them, or its own share of them with disjoint content."""
    pool = study.content_pool()
    available = disjoint_share(parallel, pool) if pool else parallel
    has = (f"{task} train has {parallel} problems, {available} for each of the {len(pool)} training languages with "
           f"mixture.content: disjoint" if pool else f"{task} train has {available}")
    fix = " (or use mixture.content: parallel)" if pool else ""
    for index, mixture in ((i, m) for i, entry in enumerate(study.mixtures) for m in entry.expanded()):
        for lang, count in mixture.counts(task).items():
            if count > available:
                raise ConfigError(f"mixtures[{index}] ({mixture.name}): {count} {lang} examples asked, {has}; "
                                  f"lower the count{fix}")
    if study.search is not None:  # a searched mixture may give the whole budget to one language
        total = study.search.total[task] if isinstance(study.search.total, dict) else study.search.total
        if total > available:
            raise ConfigError(f"search.total: {total} examples per run, but {has} per language and a mixture may "
                              f"give all of them to one language; lower search.total{fix}")


def resolve_model_paths(study: Study, data_dir: Path, workdir: Path) -> dict[str, str]:
    paths = {}
    # A tiny model's tokenizer learns from the train files of the study's tasks (its name says which), so that
    # long texts (summarization articles) do not outgrow max_seq_len in poorly merged scripts.
    files = sorted(f for f in data_dir.glob("*/*/train.jsonl") if f.parts[-3] in study.tasks)
    # Built on the sample data (named by its content hash) a tiny model is a function of polymix's code alone: built
    # once in the machine cache (named by training/models.py's hash too), copied into the work dir. Converted real
    # data is named by its sources' spec, not their content: its tiny models are built in the work dir.
    cache = machine_cache() if data_dir.name.startswith("sample-") else None
    code = hashlib.sha256(TINY_MODEL_CODE.read_bytes()).hexdigest()[:8]
    for model in study.models:
        if model.tiny and model.init == "pretrained":  # the committed base, copied where every node reads the work dir
            source = base_dir(model.tiny)
            built = copy_once(source, workdir / "models" / f"tiny-{model.tiny}-base-{base_version(model.tiny)}")
            paths[model.name] = str(built.resolve())
        elif model.tiny:
            corpus = (line for f in files for line in f.read_text(encoding="utf-8").splitlines())
            name = f"tiny-{model.tiny}-seed{study.seed}-{data_dir.name}-{'-'.join(sorted(study.tasks))}"
            if cache is None:
                built = make_tiny_model(workdir / "models" / name, model.tiny, corpus, seed=study.seed)
            else:
                cached = make_tiny_model(cache / "models" / f"{name}-code{code}", model.tiny, corpus, seed=study.seed)
                built = copy_once(cached, workdir / "models" / name)
            paths[model.name] = str(built.resolve())
        else:
            paths[model.name] = model.path
    return paths



def prepare_inputs(study: Study, workdir: Path) -> tuple[Path, str, Path, dict[str, str]]:
    """Before anything runs: the work directory, a tracking server that answers, the data (checked) and the
    models. Returns the work directory, the tracking URI, the data directory and the model paths."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or study.tracking.uri or default_tracking_uri(workdir)
    # A password in the URI moves to the environment: this process's MLflow clients read it there, and so do a
    # local Ray's workers, which inherit it (a remote cluster's get it from init_ray).
    tracking_uri, credentials = split_credentials(tracking_uri)
    os.environ.update(credentials)
    check_tracking_server(tracking_uri)
    data_dir = resolve_data_dir(study, workdir)
    for line in conversion_lines(data_dir):
        print(f"[polymix] data {line}", flush=True)
    check_data(study, data_dir)
    return workdir, tracking_uri, data_dir, resolve_model_paths(study, data_dir, workdir)
