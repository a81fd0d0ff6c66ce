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
import hashlib
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
_MAX_DISJOINT_DRAWS = 10_000  # attempts to draw a row no earlier split holds (then the templates are too few)
_DEAL = ("test", "validation", "train", "train", "train", "train")  # the splits' shares of each template's prompts
_LISTING_DRAWS, _SMALL_TEMPLATE = 1000, 100  # a template drawn 1000 times giving under 100 prompts is listed whole

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
def _digest(prompt: str) -> int:
    return int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:8], "big")


def _split_of(task: Task) -> Callable[[str], str]:
    """English prompt → the one split it may appear in. A sixth of each template's prompts is reserved for the test
    split and a sixth for validation, whatever the seed. A template that makes few prompts (under
    _SMALL_TEMPLATE) has them all listed and dealt out in turn, so it lends at least one to every split; the prompts
    of a larger template go by a hash of their text."""
    generator = task.sample
    rng = random.Random(f"polymix-sample-splits-{task.name}")
    dealt: dict[str, str] = {}
    for template in sorted({t for split in SPLITS for t in generator.templates(split)}):
        prompts: set[str] = set()
        for _ in range(_LISTING_DRAWS):
            prompts.add(task.prompt(generator.row(generator.draw(rng, template), "en"), "en"))
            if len(prompts) >= _SMALL_TEMPLATE:
                break
        else:  # listed whole: 1000 draws miss one of 100 prompts with p < 0.005
            for number, prompt in enumerate(sorted(prompts, key=_digest)):
                dealt[prompt] = _DEAL[number % len(_DEAL)]
    return lambda prompt: dealt.get(prompt) or _DEAL[_digest(prompt) % len(_DEAL)]


def _examples(task: Task, counts: dict[str, int], seed: int) -> Iterator[tuple[str, str, dict[str, dict]]]:
    """(split, id, the example's row in every language); ids run on across splits, in :data:`SPLITS` order.

    The evaluation splits are drawn first, and no later split repeats a prompt of an earlier one in any language: the
    test set, then the validation set, are disjoint from the training set (as a real dataset's are), so a score on
    them is not memorisation. Within a split the template (or API) is drawn uniformly; its values are redrawn while
    the English row repeats an earlier example of the split (up to _MAX_RESAMPLE times, so that templates with few
    possible values still get their share), and always while a prompt repeats one of an earlier split.
    """
    rng = random.Random(f"polymix-sample-{task.name}-{seed}")
    generator = task.sample
    split_of = _split_of(task)
    taken: dict[str, set[str]] = {lang: set() for lang in ALL_LANGUAGES}  # prompts of the splits drawn before
    drawn: dict[str, list[dict]] = {}
    for split in reversed(SPLITS):
        templates = generator.templates(split)
        seen: set[str] = set()
        in_split: dict[str, set[str]] = {lang: set() for lang in ALL_LANGUAGES}
        drawn[split] = []
        for _ in range(counts[split]):
            tries = 0  # draws of this split's prompts
            for _attempt in range(_MAX_DISJOINT_DRAWS):
                example = generator.draw(rng, rng.choice(templates))
                english = generator.row(example, "en")
                if split_of(task.prompt(english, "en")) != split:
                    continue
                tries += 1
                key = json.dumps(english, sort_keys=True)
                if key in seen and tries <= _MAX_RESAMPLE:
                    continue
                # Disjoint in every language: two examples may differ in English yet read the same in another.
                rows = {lang: generator.row(example, lang) for lang in ALL_LANGUAGES}
                prompts = {lang: task.prompt(row, lang) for lang, row in rows.items()}
                if not any(prompt in taken[lang] for lang, prompt in prompts.items()):
                    break
            else:
                raise ValueError(f"{task.name} sample data: no {split} example left whose prompt no earlier split holds "
                                 f"after {_MAX_DISJOINT_DRAWS} draws; its templates allow too few distinct prompts")
            seen.add(key)
            drawn[split].append(rows)
            for lang, prompt in prompts.items():
                in_split[lang].add(prompt)
        for lang in ALL_LANGUAGES:
            taken[lang] |= in_split[lang]
    number = 0
    for split in SPLITS:
        for rows in drawn[split]:
            yield split, f"{task.name}-{number:05d}", rows
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
        for split, row_id, rows in _examples(task, counts, seed):
            by_split[split].append((row_id, rows))
        for lang in ALL_LANGUAGES:
            folder = out_dir / task.name / lang
            folder.mkdir(parents=True, exist_ok=True)
            for split, examples in by_split.items():
                lines = [json.dumps({"id": row_id, **rows[lang]}, ensure_ascii=False) + "\n" for row_id, rows in examples]
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
