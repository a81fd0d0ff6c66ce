"""Deterministic, parallel multilingual sample data: the two tasks of docs/studies.md §1a (math and API calling) and the
summarization and instruction-following tasks of §1b.

``write_sample_data(out_dir)`` writes ``out_dir/{task}/{lang}/{split}.jsonl`` for every task of the registry
(:data:`training.tasks.TASKS`: each task's ``sample`` generator draws its examples and renders its rows),
every language of :data:`training.languages.ALL_LANGUAGES` and split in ("train", "validation", "test").
Row k of a file is the same example in every language (same id, same numbers and argument semantics,
translated text). The data is small stand-in data for tests and smoke runs, shaped like the real data
sets: mCoT-MATH/MGSM for math, API-Bank style for API calls (test APIs are disjoint from train APIs).

Rows::

    math: {"id": "math-00017", "question": str, "solution": str, "answer": "8"}
    api:  {"id": "api-00017", "api_name": str, "api_doc": str, "request": str, "call": str,
           "arguments": {key: value}}
    summarization: {"id": "summarization-00017", "text": str, "summary": str}              (XLSum-style)
    instruction:   {"id": "instruction-00017", "prompt": str, "response": str,
                    "instructions": [{"kind", "n", "words", "text", "lang"}]}              (IFEval-style checks)

The templates live in ``training/sample_templates/*.json`` (read by :mod:`training.sample_tables`); this module keeps what the
generators share (rendering, names and their forms, argument values) and the write loop. Usage:
``python -m training.sample_data OUT_DIR``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from training import sample_tables as tables
from training.languages import ALL_LANGUAGES

if TYPE_CHECKING:
    from training.tasks import Task

SPLITS: tuple[str, ...] = ("train", "validation", "test")

_TOKEN = re.compile(r"\{(\w+)((?:\|[^{}|]*)*)\}")
_MAX_RESAMPLE = 20  # attempts to draw values giving a text not seen before (then a repeat is allowed)

# Language-independent argument values, by kind (parallel kinds are in tables.API_VALUES and tables.NAMES).
_VALUE_DRAWS: dict[str, Callable[[random.Random], str]] = {
    "date": lambda rng: f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    "time": lambda rng: f"{rng.randint(6, 21):02d}:{rng.choice((0, 15, 30, 45)):02d}",
    "email": lambda rng: f"{rng.choice(tables.EMAIL_USERS)}@example.com",
    "username": lambda rng: rng.choice(tables.USERNAMES),
    "symbol": lambda rng: rng.choice(tables.STOCK_SYMBOLS),
    "currency": lambda rng: rng.choice(tables.CURRENCIES),
    "expression": lambda rng: f"{rng.randint(2, 99)} {rng.choice('+-*')} {rng.randint(2, 99)}",
    "amount": lambda rng: str(rng.choice((10, 20, 50, 100, 200, 250, 500, 1000, 1500, 2000))),
    "people": lambda rng: str(rng.randint(2, 8)),
    "nights": lambda rng: str(rng.randint(1, 7)),
    "minutes": lambda rng: str(rng.randint(1, 60)),
    "passengers": lambda rng: str(rng.randint(1, 4)),
    "stars": lambda rng: str(rng.randint(1, 5)),
    "temperature": lambda rng: str(rng.randint(16, 28)),
    "account": lambda rng: f"ACC-{rng.randint(1000, 9999)}",
    "tracking": lambda rng: f"TRK{rng.randint(100000, 999999)}",
    "order": lambda rng: f"ORD-{rng.randint(10000, 99999)}",
    "user": lambda rng: f"U{rng.randint(1000, 9999)}",
    "product": lambda rng: f"P-{rng.randint(1000, 9999)}",
}


# ------------------------------------------------------------------------------------------- rendering
def plural_index(lang: str, n: int) -> int:
    """Index of the noun form for ``n`` things: one|other, or one|few|many for Russian."""
    if lang == "ru":
        if n % 10 == 1 and n % 100 != 11:
            return 0
        return 1 if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else 2
    if lang == "fr":
        return 0 if n <= 1 else 1
    return 0 if n == 1 else 1


def render(template: str, lang: str, ctx: dict) -> str:
    """Fill ``{key}`` and ``{key|form|form...}`` (by gender of a person key, else by plural of a number)."""

    def fill(match: re.Match) -> str:
        key, alternatives = match.group(1), match.group(2)
        if not alternatives:
            return str(ctx[key])
        forms = alternatives[1:].split("|")
        if f"{key}_g" in ctx:
            index = 0 if ctx[f"{key}_g"] == "m" else 1
        else:
            index = plural_index(lang, int(ctx[key]))
        return forms[min(index, len(forms) - 1)]

    return _TOKEN.sub(fill, template)


def person(key: str, lang: str, index: int) -> dict:
    name, gender = tables.NAMES[lang][index]
    forms = tables.NAME_FORMS.get(lang, {}).get(name, {})
    return {key: name, f"{key}_g": gender, **{f"{key}_{case}": form for case, form in forms.items()}}


def quote_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# ------------------------------------------------------------------------------- shared by the generators
def draw_value(rng: random.Random, kind: str) -> int | str:
    """A parallel index for translated kinds (person, city, ...), else the literal value."""
    if kind == "person":
        return rng.randrange(len(tables.NAMES["en"]))
    if kind in tables.API_VALUES:
        return rng.randrange(len(tables.API_VALUES[kind]["en"]))
    return _VALUE_DRAWS[kind](rng)


def story_context(example: dict, lang: str) -> dict:
    return {"city": tables.API_VALUES["city"][lang][example["city"]], **person("p", lang, example["p"]),
            "n": example["n"], "k": example["n"] * 1000}


# --------------------------------------------------------------------------------------------- write
def _examples(task: Task, counts: dict[str, int], seed: int) -> Iterator[tuple[str, str, dict]]:
    """(split, id, language-independent example); ids run on across splits.

    The template (or API) is drawn uniformly; its values are redrawn while the English text repeats an
    earlier example (up to _MAX_RESAMPLE times, so that APIs with few possible values still get their share).
    """
    rng = random.Random(f"polymix-sample-{task.name}-{seed}")
    generator = task.sample
    seen: set[str] = set()
    number = 0
    for split in SPLITS:
        templates = generator.templates(split)
        for _ in range(counts[split]):
            template = rng.choice(templates)
            for _attempt in range(_MAX_RESAMPLE):
                example = generator.draw(rng, template)
                key = json.dumps(generator.row(example, "en"), sort_keys=True)
                if key not in seen:
                    break
            seen.add(key)
            yield split, f"{task.name}-{number:05d}", example
            number += 1


SAMPLE_ROWS = {"train": 1200, "validation": 120, "test": 120}  # rows per language of each split, by default


def write_sample_data(
    out_dir: str | Path, n_train: int = SAMPLE_ROWS["train"], n_validation: int = SAMPLE_ROWS["validation"],
    n_test: int = SAMPLE_ROWS["test"], seed: int = 0
) -> Path:
    """Write ``out_dir/{task}/{lang}/{split}.jsonl`` for every task and all 11 languages; return out_dir."""
    # Imported here, not above: the task modules import this module's rendering helpers for their generators.
    from training.tasks import TASKS

    counts = {"train": n_train, "validation": n_validation, "test": n_test}
    if min(counts.values()) < 0:
        raise ValueError(f"row counts must be >= 0, got {counts}")
    out_dir = Path(out_dir)
    for task in TASKS.values():
        by_split: dict[str, list[tuple[str, dict]]] = {split: [] for split in SPLITS}
        for split, row_id, example in _examples(task, counts, seed):
            by_split[split].append((row_id, example))
        for lang in ALL_LANGUAGES:
            folder = out_dir / task.name / lang
            folder.mkdir(parents=True, exist_ok=True)
            for split, examples in by_split.items():
                lines = [
                    json.dumps({"id": row_id, **task.sample.row(example, lang)}, ensure_ascii=False) + "\n"
                    for row_id, example in examples
                ]
                (folder / f"{split}.jsonl").write_text("".join(lines), encoding="utf-8", newline="\n")
    return out_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--n-train", type=int, default=SAMPLE_ROWS["train"])
    parser.add_argument("--n-validation", type=int, default=SAMPLE_ROWS["validation"])
    parser.add_argument("--n-test", type=int, default=SAMPLE_ROWS["test"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = write_sample_data(args.out_dir, args.n_train, args.n_validation, args.n_test, args.seed)
    print(path)


if __name__ == "__main__":
    main()
