"""Real datasets (hub id or local copy) → the canonical parallel layout DATA_DIR/{task}/{lang}/{split}.jsonl.

Formats, as their publishers lay them out:
- ``mgsm`` (math test; juletxara/mgsm, google-research/url-nlp): ``mgsm_{lang}.tsv``, no header, two
  tab-separated columns: question, answer number. Row i is the same problem in every language.
- ``mcot_math`` (math train; laihuiyuan/mCoT-MATH): one JSON array or JSONL file holding every language,
  rows ``{"lang", "question", "answer"}`` with the id in ``id`` or in ``lang-id`` ("{lang}-{id}"); the answer is
  a chain of thought whose last number is the final answer.
- ``mapicall_bank`` (API calling, train and test; mAPICall-Bank = API-Bank translated, names and keys in
  English): ``{lang}/{split}.json`` (JSON array) or ``.jsonl`` of API-Bank level-1 records ``{"id",
  "instruction", "input", "expected_output"}`` (training files say ``output``); the API descriptions close the
  instruction after "API descriptions:", the target is ``API-Request: [ApiName(key='value', ...)]``.

- ``xlsum`` (summarization, train and test; csebuetnlp/xlsum): one folder per language named by XLSum's language
  name (``english``, ``chinese_simplified``, ...) or flat files, ``{name}_{train,test}.jsonl`` with rows ``{"id",
  "url", "title", "summary", "text"}``. XLSum is not parallel (each language has its own BBC articles), so rows are
  aligned by position: row i of every language gets the id ``xlsum-{split}-{i}``, up to the smallest language's
  count. XLSum has no German.
- ``aya_dolly`` (instruction following, train and test; the Dolly subset of CohereForAI/aya_collection or the
  aya_evaluation_suite): JSON, JSONL or Parquet files (one, or a folder of them) of rows ``{"id", "inputs",
  "targets", "language"}`` with ISO 639-3 language codes; the translations of one Dolly example share its id.
  Dolly's responses carry no verifiable instruction, so every example is checked for its answer language only
  (``{"kind": "language"}``), the Post-trainer's Guide's penalty; chrF to the reference is logged beside it.

Converting once, before any job starts, keeps one reading path for training and evaluation and lets
alignment (same ids in every language) be checked up front. Validation rows are held out of train by a
seeded draw (SPEC §1a: 200 for math, 150 for API calling).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from training.errors import DataError
from training.tasks import extract_number, format_number

# format → (task, the splits it can provide)
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "mgsm": ("math", ("test",)),
    "mcot_math": ("math", ("train",)),
    "mapicall_bank": ("api", ("train", "test")),
    "xlsum": ("summarization", ("train", "test")),
    "aya_dolly": ("instruction", ("train", "test")),
}

# XLSum's folder and file names, and the ISO 639-3 codes of the Aya collection, for the study languages.
XLSUM_NAMES = {"en": "english", "es": "spanish", "ja": "japanese", "bn": "bengali", "sw": "swahili", "te": "telugu",
               "fr": "french", "ru": "russian", "zh": "chinese_simplified", "th": "thai"}
ISO_639_3 = {"eng": "en", "spa": "es", "jpn": "ja", "ben": "bn", "swh": "sw", "swa": "sw", "tel": "te", "fra": "fr",
             "deu": "de", "rus": "ru", "zho": "zh", "cmn": "zh", "tha": "th"}
_LANGUAGE_ONLY = [{"kind": "language", "n": None, "words": None, "text": None, "lang": None}]

_CALL = re.compile(r"^\s*(?:API-Request:)?\s*\[?\s*([A-Za-z_][\w.]*\(.*\))\s*\]?\s*$", re.DOTALL)


def resolve_source(path: str) -> Path:
    """A local directory or file as is; otherwise a hub dataset id, fetched (or found in the HF cache)."""
    local = Path(path).expanduser()
    if local.exists():
        return local
    if path.startswith((".", "/", "~")) or path.count("/") != 1:
        raise DataError(f"{path}: no such file or directory; give a local copy or a hub dataset id like 'juletxara/mgsm'")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id=path, repo_type="dataset"))
    except Exception as error:  # offline, unknown repo, no access: the hub client's own words
        raise DataError(f"{path}: could not fetch this hub dataset ({type(error).__name__}: {error}); "
                        "download it first (huggingface-cli download --repo-type dataset ...) or give a local copy") from None


def read_records(path: Path) -> list[dict]:
    """A JSON array or JSONL file; a broken file is named with its line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not valid UTF-8 ({error.reason} at byte {error.start}); re-encode the file as UTF-8") from None
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}: line {error.lineno}, column {error.colno}: malformed JSON ({error.msg}); fix the file") from None
    else:
        records = []
        for line_number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise DataError(f"{path}: line {line_number}, column {error.colno}: malformed JSON ({error.msg}); "
                                    "fix or remove that row") from None
    bad = next((i for i, r in enumerate(records, start=1) if not isinstance(r, dict)), None)
    if bad is not None:
        raise DataError(f"{path}: row {bad} is not a JSON object; every row needs named fields")
    return records


def _field(record: dict, names: tuple[str, ...], path: Path, row: int) -> str:
    for name in names:
        if record.get(name) not in (None, ""):
            return str(record[name])
    raise DataError(f"{path}: row {row}: column {names[0]!r} is missing or empty; every row needs {' / '.join(names)}")


def read_mgsm(path: str, languages: list[str]) -> dict[str, list[dict]]:
    root = resolve_source(path)
    by_lang = {}
    for lang in languages:
        file = root / f"mgsm_{lang}.tsv"
        if not file.is_file():
            raise DataError(f"{file}: not found; MGSM keeps one file per language named mgsm_{{lang}}.tsv")
        rows = []
        with file.open(encoding="utf-8", newline="") as handle:
            try:
                for line_number, columns in enumerate(csv.reader(handle, delimiter="\t", quotechar='"'), start=1):
                    if len(columns) != 2:
                        raise DataError(f"{file}: line {line_number}: {len(columns)} column(s); MGSM rows are "
                                        "question<TAB>answer number")
                    try:
                        answer = format_number(float(columns[1].replace(",", "").strip()))
                    except ValueError:
                        raise DataError(f"{file}: line {line_number}, column 2: {columns[1]!r} is not a number; "
                                        "the second column holds the answer number") from None
                    rows.append({"id": f"mgsm-{line_number:04d}", "question": columns[0], "solution": "", "answer": answer})
            except UnicodeDecodeError as error:
                raise DataError(f"{file}: not valid UTF-8 ({error.reason}); re-encode the file as UTF-8") from None
        by_lang[lang] = rows
    return by_lang


def read_mcot_math(path: str, languages: list[str], file: str | None = None) -> dict[str, list[dict]]:
    root = resolve_source(path)
    source = root / (file or "mcot_math.json") if root.is_dir() else root
    if not source.is_file():
        raise DataError(f"{source}: not found; point data.sources.math.train.file at the mCoT-MATH JSON/JSONL file")
    wanted, by_lang = set(languages), {lang: [] for lang in languages}
    for row, record in enumerate(read_records(source), start=1):
        lang = _field(record, ("lang",), source, row)
        if lang not in wanted:
            continue
        if record.get("id") is not None:
            record_id = str(record["id"])
        else:
            prefix, _, record_id = _field(record, ("lang-id",), source, row).partition("-")
            if prefix != lang or not record_id:
                raise DataError(f"{source}: row {row}: column 'lang-id' is {record['lang-id']!r}; expected '{lang}-<id>'")
        solution = _field(record, ("answer",), source, row)
        final = extract_number(solution)
        if final is None:
            raise DataError(f"{source}: row {row}: column 'answer' has no final number; the chain of thought must end with it")
        by_lang[lang].append({"id": record_id, "question": _field(record, ("question",), source, row),
                              "solution": solution, "answer": format_number(final)})
    return by_lang


def _api_call(record: dict, path: Path, row: int) -> str:
    target = _field(record, ("expected_output", "output"), path, row)
    match = _CALL.match(target)
    if not match:
        raise DataError(f"{path}: row {row}: column 'expected_output' is {target[:60]!r}; expected "
                        "API-Request: [ApiName(key='value', ...)]")
    return match.group(1)


def read_mapicall_bank(path: str, languages: list[str], split: str) -> dict[str, list[dict]]:
    root = resolve_source(path)
    by_lang = {}
    for lang in languages:
        candidates = [root / lang / f"{split}.json", root / lang / f"{split}.jsonl"]
        file = next((c for c in candidates if c.is_file()), None)
        if file is None:
            raise DataError(f"{candidates[0]}: not found; mAPICall-Bank keeps {{lang}}/{{train,test}}.json(l) per language")
        rows = []
        for row, record in enumerate(read_records(file), start=1):
            instruction = _field(record, ("instruction",), file, row)
            doc_start = instruction.find("API descriptions:")
            if doc_start < 0:
                raise DataError(f"{file}: row {row}: column 'instruction' has no 'API descriptions:' section; "
                                "API-Bank level-1 instructions end with the API's JSON description")
            record_id = _field(record, ("id",), file, row)
            rows.append({
                "id": f"{record['file']}:{record_id}" if record.get("file") else record_id,
                "api_doc": instruction[doc_start + len("API descriptions:"):].strip(),
                "request": _field(record, ("input",), file, row).removesuffix("\n").removesuffix("Generate API Request:").strip(),
                "call": _api_call(record, file, row),
            })
        by_lang[lang] = rows
    return by_lang


def read_xlsum(path: str, languages: list[str], split: str) -> dict[str, list[dict]]:
    root = resolve_source(path)
    by_lang = {}
    for lang in languages:
        if lang not in XLSUM_NAMES:
            raise DataError(f"{path}: XLSum has no {lang!r} data (it covers {', '.join(XLSUM_NAMES)} of the study "
                            "languages); drop the language from the summarization study or give data.path")
        name = XLSUM_NAMES[lang]
        candidates = [root / name / f"{name}_{split}.jsonl", root / f"{name}_{split}.jsonl"]
        file = next((c for c in candidates if c.is_file()), None)
        if file is None:
            raise DataError(f"{candidates[0]}: not found; XLSum keeps {{language}}/{{language}}_{{train,val,test}}.jsonl")
        by_lang[lang] = [{"text": _field(record, ("text",), file, row), "summary": _field(record, ("summary",), file, row)}
                         for row, record in enumerate(read_records(file), start=1)]
    size = min(len(rows) for rows in by_lang.values())  # not parallel: aligned by position
    return {lang: [{"id": f"xlsum-{split}-{i:06d}", **row} for i, row in enumerate(rows[:size])]
            for lang, rows in by_lang.items()}


def _records(source: Path, languages: set[str] | None = None) -> list[dict]:
    """Rows of a JSON / JSONL / Parquet file, or of every such file in a folder (sorted by name). Parquet rows are
    read for the ``language`` codes given only (the Aya collection's Dolly files hold 101 languages)."""
    files = sorted(f for f in source.rglob("*") if f.suffix in (".json", ".jsonl", ".parquet")) if source.is_dir() else [source]
    if not files:
        raise DataError(f"{source}: no .json, .jsonl or .parquet file in it")
    records = []
    for file in files:
        if file.suffix == ".parquet":
            import pyarrow.parquet

            columns = pyarrow.parquet.read_schema(file).names
            wanted = [("language", "in", sorted(languages))] if languages and "language" in columns else None
            records.extend(pyarrow.parquet.read_table(file, filters=wanted).to_pylist())
        else:
            records.extend(read_records(file))
    return records


def read_aya_dolly(path: str, languages: list[str], file: str | None = None) -> dict[str, list[dict]]:
    root = resolve_source(path)
    source = root / file if file else root
    if not source.exists():
        raise DataError(f"{source}: not found; point data.sources.instruction.<split>.file at the Aya Dolly file or folder")
    wanted, by_lang = set(languages), {lang: [] for lang in languages}
    codes = {code for code, lang in ISO_639_3.items() if lang in wanted} | wanted
    for row, record in enumerate(_records(source, codes), start=1):
        code = _field(record, ("language", "language_code"), source, row)
        lang = ISO_639_3.get(code, code)
        if lang in wanted:
            by_lang[lang].append({"id": f"dolly-{_field(record, ('id',), source, row)}",
                                  "prompt": _field(record, ("inputs",), source, row),
                                  "response": _field(record, ("targets",), source, row), "instructions": _LANGUAGE_ONLY})
    return by_lang


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


def api_names(rows: list[dict]) -> set[str]:
    return {row["call"].split("(", 1)[0] for row in rows}


def read_split(source: dict, task: str, split: str, languages: list[str]) -> dict[str, list[dict]]:
    fmt, path = source["format"], source["path"]
    readers: dict[str, Callable[[], dict[str, list[dict]]]] = {
        "mgsm": lambda: read_mgsm(path, languages),
        "mcot_math": lambda: read_mcot_math(path, languages, source.get("file")),
        "mapicall_bank": lambda: read_mapicall_bank(path, languages, split),
        "xlsum": lambda: read_xlsum(path, languages, split),
        "aya_dolly": lambda: read_aya_dolly(path, languages, source.get("file")),
    }
    by_lang = readers[fmt]()
    check_same_ids(by_lang, f"{path} ({fmt}, {task} {split})")
    # The polymix layout wants the same ids in the same order in every language; files need not agree on order.
    return {lang: sorted(rows, key=lambda r: r["id"]) for lang, rows in by_lang.items()}


def hold_out(rows: list[dict], size: int, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, validation): ``size`` rows drawn by a seeded permutation of the ids, the same in every language."""
    ids = sorted(r["id"] for r in rows)
    random.Random(seed).shuffle(ids)
    held = set(ids[:size])
    return [r for r in rows if r["id"] not in held], [r for r in rows if r["id"] in held]


def prepare_sources(sources: dict[str, dict], train_languages: list[str], test_languages: list[str],
                    cache_root: str | Path, seed: int = 0) -> Path:
    """Convert every task's sources once into DATA_DIR/{task}/{lang}/{split}.jsonl (content-addressed, atomic)."""
    key = json.dumps([sources, sorted(train_languages), sorted(test_languages), seed], sort_keys=True)
    target = Path(cache_root) / "data" / f"prepared-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    if (target / "COMPLETE").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".staging-"))
    try:
        for task, spec in sources.items():
            train = read_split(spec["train"], task, "train", train_languages)
            test = read_split(spec["test"], task, "test", test_languages)
            if task == "api":
                shared = api_names(next(iter(train.values()))) & api_names(next(iter(test.values())))
                if shared:
                    raise DataError(f"{spec['test']['path']}: {len(shared)} API(s) appear in both train and test "
                                    f"(e.g. {sorted(shared)[:3]}); API-calling train and test must use disjoint APIs")
            for lang, rows in train.items():
                fit, validation = hold_out(rows, spec["validation_size"], seed)
                _write_jsonl(staging / task / lang / "train.jsonl", fit)
                _write_jsonl(staging / task / lang / "validation.jsonl", validation)
            for lang, rows in test.items():
                _write_jsonl(staging / task / lang / "test.jsonl", rows)
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
