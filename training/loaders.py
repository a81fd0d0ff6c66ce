"""Real datasets (hub id or local copy) → the canonical parallel layout DATA_DIR/{task}/{lang}/{split}.jsonl.

Which task accepts which format, for which splits, each task declares (``Task.sources`` in ``training.tasks``);
the readers are here. Formats, as their publishers lay them out:
- ``mgsm`` (math test; juletxara/mgsm, google-research/url-nlp): ``mgsm_{lang}.tsv``, no header, two
  tab-separated columns: question, answer number. Row i is the same problem in every language.
- ``mcot_math`` (math train; laihuiyuan/mCoT-MATH): one JSON array (11.6 GB for the release: streamed, never loaded
  whole) or JSONL file holding every language, rows ``{"lang", "question", "answer"}`` with the id in ``id`` or in
  ``lang-id`` ("{lang}-{id}", the release's ``lang-id/mcot-math.json``); the answer is a chain of thought ending in
  its final answer ("The answer is: 18"). Rows from MATH whose final answer is no number (``\\frac{1}{2}``,
  ``\\text{(B)}``) cannot be scored by MGSM's number match: they are skipped and counted per language.
- ``mapicall_bank`` (API calling, train and test; mAPICall-Bank = API-Bank translated, names and keys in
  English): ``{lang}/{split}.json`` (JSON array) or ``.jsonl`` of API-Bank level-1 records ``{"id", "file",
  "instruction", "input", "expected_output"}``; training files say ``output`` and carry no id (a row's id is then
  its position: translations are parallel row by row). The API descriptions close the instruction after
  "API descriptions:", the target is ``API-Request: [ApiName(key='value', ...)]``.

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

``training.preparation`` converts a study's sources with these readers, once, before any job starts.
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from training.answers import format_number, numeric_final_answer
from training.errors import DataError

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


@dataclass
class SplitCounts:
    """What converting one split did, per language: rows read, rows skipped (by reason) and rows kept."""

    read: Counter = field(default_factory=Counter)
    skipped: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # reason → {lang: rows}
    kept: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"read": dict(self.read), "skipped": {reason: dict(by_lang) for reason, by_lang in self.skipped.items()},
                "kept": self.kept}


def draw_priority(seed: int, record_id: str) -> int:
    """A seeded pseudo-random rank of an id, the same in every language: the ``sample`` rows kept are the ids of
    lowest rank, so drawing them needs no second copy of the data."""
    return int.from_bytes(hashlib.blake2b(f"{seed}:{record_id}".encode(), digest_size=8).digest(), "big")


def stream_records(source: Path) -> Iterator[tuple[int, dict]]:
    """(row number, row) of a JSON array or JSONL file, one at a time: memory does not grow with the file."""
    import ijson

    with source.open("rb") as handle:
        is_array = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")
        handle.seek(0)
        if is_array:
            rows, number = ijson.items(handle, "item", use_float=True), 0
            try:
                for number, record in enumerate(rows, start=1):
                    yield number, _as_row(record, source, number)
            except (ijson.JSONError, UnicodeDecodeError) as error:
                raise DataError(f"{source}: malformed JSON after row {number} ({error}); fix the file") from None
            return
        number = 0
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except UnicodeDecodeError as error:
                raise DataError(f"{source}: line {line_number}: not valid UTF-8 ({error.reason}); re-encode the file "
                                "as UTF-8") from None
            except json.JSONDecodeError as error:
                raise DataError(f"{source}: line {line_number}, column {error.colno}: malformed JSON ({error.msg}); "
                                "fix or remove that row") from None
            number += 1
            yield number, _as_row(record, source, number)


def _as_row(record, source: Path, number: int) -> dict:
    if not isinstance(record, dict):
        raise DataError(f"{source}: row {number} is not a JSON object; every row needs named fields")
    return record


def _mcot_id(record: dict, lang: str, source: Path, row: int) -> str:
    if record.get("id") is not None:
        return str(record["id"])
    if record.get("lang-id") in (None, ""):
        raise DataError(f"{source}: row {row}: no 'id' or 'lang-id'; parallel rows need an id shared by their "
                        "translations (mCoT-MATH's lang-id/mcot-math.json gives 'lang-id': '{lang}-{id}')")
    prefix, _, record_id = str(record["lang-id"]).partition("-")
    if prefix != lang or not record_id:
        raise DataError(f"{source}: row {row}: column 'lang-id' is {record['lang-id']!r}; expected '{lang}-<id>'")
    return record_id


def _lowest_ranked(candidates: dict[str, list], sample: int | None) -> list[str]:
    """Ids present in every language's candidates, lowest draw rank first; at most ``sample``."""
    ranked = [dict((record_id, -negative) for negative, record_id in heap) for heap in candidates.values()]
    shared = set.intersection(*(set(ids) for ids in ranked)) if ranked else set()
    return sorted(shared, key=lambda record_id: ranked[0][record_id])[:sample]


def read_mcot_math(path: str, languages: list[str], file: str | None = None, sample: int | None = None, seed: int = 0,
                   counts: SplitCounts | None = None) -> dict[str, list[dict]]:
    """mCoT-MATH, streamed twice: first the draw of ``sample`` ids whose final answer is one number in every language
    (``draw_numeric_ids``), then only the drawn rows are materialised."""
    root = resolve_source(path)
    source = root / (file or "mcot_math.json") if root.is_dir() else root
    if not source.is_file():
        raise DataError(f"{source}: not found; point data.sources.math.train.file at the mCoT-MATH JSON/JSONL file "
                        "(the release's lang-id/mcot-math.json)")
    wanted = set(languages)

    def rows() -> Iterator[tuple[str, str, dict, int]]:
        for row, record in stream_records(source):
            lang = _field(record, ("lang",), source, row)
            if lang in wanted:
                yield lang, _mcot_id(record, lang, source, row), record, row

    chosen = set(draw_numeric_ids(rows, source, languages, sample, seed, counts if counts is not None else SplitCounts()))
    by_lang = {lang: [] for lang in languages}
    for lang, record_id, record, row in rows():
        if record_id in chosen:
            solution = _field(record, ("answer",), source, row)
            by_lang[lang].append({"id": record_id, "question": _field(record, ("question",), source, row),
                                  "solution": solution, "answer": format_number(numeric_final_answer(solution))})
    return by_lang


def draw_numeric_ids(rows: Callable[[], Iterator], source: Path, languages: list[str], sample: int | None, seed: int,
                     counts: SplitCounts) -> list[str]:
    """The ``sample`` lowest-ranked ids (``draw_priority``) whose final answer is one number in every language; all
    of them when ``sample`` is None. Each language keeps only its lowest-ranked candidates, so memory grows with the
    sample, not with the file; a pass that kept too few shared ids is repeated with room for more. Rows skipped
    (not a number here; a number in some languages only) are counted per language."""
    capacity = None if sample is None else sample + sample // 10 + 100
    while True:
        counts.read.clear()
        counts.skipped.clear()
        candidates: dict[str, list] = {lang: [] for lang in languages}
        for lang, record_id, record, row in rows():
            counts.read[lang] += 1
            if numeric_final_answer(_field(record, ("answer",), source, row)) is None:
                counts.skipped["final answer is not a number"][lang] += 1
                continue
            heapq.heappush(candidates[lang], (-draw_priority(seed, record_id), record_id))
            if capacity is not None and len(candidates[lang]) > capacity:
                heapq.heappop(candidates[lang])  # (the highest rank leaves)
        if len({counts.read[lang] for lang in languages}) > 1:
            sizes = ", ".join(f"{lang} {counts.read[lang]}" for lang in languages)
            raise DataError(f"{source}: the languages are not aligned ({sizes} rows); parallel data needs every "
                            "example in every language")
        chosen = _lowest_ranked(candidates, sample)
        if capacity is None or len(chosen) == sample or all(len(h) < capacity for h in candidates.values()):
            break
        capacity *= 2
    if sample is not None and len(chosen) < sample:
        raise DataError(f"{source}: {len(chosen)} examples have a numeric final answer in every one of "
                        f"{', '.join(languages)}, fewer than data.sources.math.train.sample={sample}; lower the sample")
    # A number in this language but not in every one (a translation that lost it), among the ids the draw reached.
    reached = float("inf") if sample is None else max((draw_priority(seed, i) for i in chosen), default=-1)
    shared = set(chosen)
    for lang, heap in candidates.items():
        if unshared := sum(1 for negative, i in heap if -negative <= reached and i not in shared):
            counts.skipped["numeric in some languages only"][lang] += unshared
    return chosen


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
            # Level-1 test records name their dialogue file and turn; training records have no id: the translations
            # of a file are parallel row by row, so the row number is the example's id.
            if record.get("id") not in (None, ""):
                record_id = f"{record['file']}:{record['id']}" if record.get("file") else str(record["id"])
            else:
                record_id = f"{split}-{row:05d}"
            rows.append({
                "id": record_id,
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
