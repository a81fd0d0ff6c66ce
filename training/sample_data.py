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

The templates live in ``training/sample_templates/*.json`` (read by :mod:`training.sample_tables`); what the generators
share (rendering, names and their forms, argument values) is in :mod:`training.sample_render`; this module draws the
examples into splits and writes them. Usage:
``python -m training.sample_data OUT_DIR``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path

from training.languages import ALL_LANGUAGES
from training.tasks import TASKS, Task

SPLITS: tuple[str, ...] = ("train", "validation", "test")

_MAX_RESAMPLE = 20  # attempts to draw values giving a text not seen before (then a repeat is allowed)
_MAX_DISJOINT_DRAWS = 10_000  # attempts to draw a row no earlier split holds (then the templates are too few)
_DEAL = ("test", "validation", "train", "train", "train", "train")  # the splits' shares of each template's prompts
_LISTING_DRAWS, _SMALL_TEMPLATE = 1000, 100  # a template drawn 1000 times giving under 100 prompts is listed whole

# --------------------------------------------------------------------------------------------- write
def _digest(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")


def problem_key(task: Task, example: dict) -> str:
    """What makes ``example`` one problem, whatever names or phrasing it is rendered with (the task generator's
    ``problem``; else its English prompt)."""
    generator = task.sample
    if generator.problem is None:
        return task.prompt(generator.row(example, "en"), "en")
    return json.dumps(generator.problem(example), sort_keys=True)


def _split_of(task: Task) -> Callable[[dict], str]:
    """Example → the one split its problem may appear in. A template that only one split draws from (an API of the
    test set) gives all its problems to that split. Otherwise a sixth of each template's problems is reserved for the
    test split and a sixth for validation, whatever the seed: a template that makes few problems (under
    _SMALL_TEMPLATE) has them all listed and dealt out in turn, so it lends at least one to every split; the problems
    of a larger template go by a hash of their key."""
    generator = task.sample
    rng = random.Random(f"polymix-sample-splits-{task.name}")
    dealt: dict[str, str] = {}
    owner: dict[int, str] = {}
    for template in sorted({t for split in SPLITS for t in generator.templates(split)}):
        users = [split for split in SPLITS if template in generator.templates(split)]
        if len(users) == 1:
            owner[template] = users[0]
            continue
        problems: set[str] = set()
        for _ in range(_LISTING_DRAWS):
            problems.add(problem_key(task, generator.draw(rng, template)))
            if len(problems) >= _SMALL_TEMPLATE:
                break
        else:  # listed whole: 1000 draws miss one of 100 problems with p < 0.005
            for number, key in enumerate(sorted(problems, key=_digest)):
                dealt[key] = _DEAL[number % len(_DEAL)]

    def split_of(template: int, example: dict) -> str:
        if template in owner:
            return owner[template]
        key = problem_key(task, example)
        return dealt.get(key) or _DEAL[_digest(key) % len(_DEAL)]

    return split_of


def _interleaved(drawn: list[tuple[int, dict]]) -> list[dict]:
    """An evaluation split's rows, one template (or API) after the other in turn, each template's in draw order.

    A study evaluates the first ``eval.test_examples`` rows, so these must spread evenly over the templates: drawn
    uniformly, the first 30 of the 8 test APIs held 6 of one and 2 of another, and a cell's score said more about
    which APIs came first than about the model."""
    by_template: dict[int, list[dict]] = {}
    for template, rows in drawn:
        by_template.setdefault(template, []).append(rows)
    queues = list(by_template.values())
    return [queue[turn] for turn in range(max(map(len, queues), default=0)) for queue in queues if turn < len(queue)]


def _examples(task: Task, counts: dict[str, int], seed: int) -> Iterator[tuple[str, str, dict[str, dict]]]:
    """(split, id, the example's row in every language); ids run on across splits, in :data:`SPLITS` order.

    Each problem (:func:`problem_key`) belongs to one split, and the evaluation splits are drawn first: no later split
    repeats a problem of an earlier one, nor its prompt in any language, so the test set, then the validation set, are
    disjoint from the training set (as a real dataset's are) and a score on them is not memorisation. Within a split the template (or API) is drawn uniformly; its values are redrawn while
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
                template = rng.choice(templates)
                example = generator.draw(rng, template)
                if split_of(template, example) != split:
                    continue
                english = generator.row(example, "en")
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
            drawn[split].append((template, rows))
            for lang, prompt in prompts.items():
                in_split[lang].add(prompt)
        for lang in ALL_LANGUAGES:
            taken[lang] |= in_split[lang]
    number = 0
    for split in SPLITS:
        for rows in (_interleaved(drawn[split]) if split != "train" else [rows for _, rows in drawn[split]]):
            yield split, f"{task.name}-{number:05d}", rows
            number += 1


SAMPLE_ROWS = {"train": 1200, "validation": 120, "test": 120}  # rows per language of each split, by default


def write_sample_data(
    out_dir: str | Path, n_train: int = SAMPLE_ROWS["train"], n_validation: int = SAMPLE_ROWS["validation"],
    n_test: int = SAMPLE_ROWS["test"], seed: int = 0
) -> Path:
    """Write ``out_dir/{task}/{lang}/{split}.jsonl`` for every task and all 11 languages; return out_dir."""
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
