"""Deterministic, parallel multilingual sample data: the two tasks of docs/studies.md §1a (math and API calling) and the
summarization and instruction-following tasks of §1b.

``write_sample_data(out_dir)`` writes ``out_dir/{task}/{lang}/{split}.jsonl`` for every task of :data:`TASKS`,
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

The templates live in ``training/sample_templates/*.json`` (read by :mod:`training.sample_tables`). Usage: ``python -m training.sample_data OUT_DIR``.
"""

from __future__ import annotations

import argparse
import json
import operator
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from training import sample_tables as S  # (S: the summarization and instruction tables)
from training import sample_tables as T
from training.languages import ALL_LANGUAGES

TASKS: tuple[str, ...] = ("math", "api", "summarization", "instruction")
SPLITS: tuple[str, ...] = ("train", "validation", "test")

_TOKEN = re.compile(r"\{(\w+)((?:\|[^{}|]*)*)\}")
_OPS = {"+": (operator.add, "+"), "-": (operator.sub, "-"), "*": (operator.mul, "×")}
_MAX_RESAMPLE = 20  # attempts to draw values giving a text not seen before (then a repeat is allowed)

# Language-independent argument values, by kind (parallel kinds are in T.API_VALUES and T.NAMES).
_VALUE_DRAWS: dict[str, Callable[[random.Random], str]] = {
    "date": lambda rng: f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    "time": lambda rng: f"{rng.randint(6, 21):02d}:{rng.choice((0, 15, 30, 45)):02d}",
    "email": lambda rng: f"{rng.choice(T.EMAIL_USERS)}@example.com",
    "username": lambda rng: rng.choice(T.USERNAMES),
    "symbol": lambda rng: rng.choice(T.STOCK_SYMBOLS),
    "currency": lambda rng: rng.choice(T.CURRENCIES),
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


def _person(key: str, lang: str, index: int) -> dict:
    name, gender = T.NAMES[lang][index]
    forms = T.NAME_FORMS.get(lang, {}).get(name, {})
    return {key: name, f"{key}_g": gender, **{f"{key}_{case}": form for case, form in forms.items()}}


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# ---------------------------------------------------------------------------------------------- math
def _solve(steps: list[str], numbers: dict[str, int]) -> list[tuple[str, int]]:
    """Evaluate steps like "a + b", "s - c" ("s" = previous result) into (equation text, result)."""
    values, out = dict(numbers), []
    for step in steps:
        x, op, y = step.split()
        function, symbol = _OPS[op]
        result = function(values[x], values[y])
        out.append((f"{values[x]} {symbol} {values[y]} = {result}", result))
        values["s"] = result
    return out


def _draw_math(rng: random.Random, problem: int) -> dict:
    spec = T.MATH_PROBLEMS[problem]
    while True:  # every intermediate and final result in 1..100
        numbers = {var: rng.randint(lo, hi) for var, (lo, hi) in spec["vars"].items()}
        if all(1 <= result <= 100 for _, result in _solve(spec["steps"], numbers)):
            break
    p, q = rng.sample(range(len(T.NAMES["en"])), 2)
    return {"problem": problem, "numbers": numbers, "p": p, "q": q}


def _math_row(example: dict, lang: str) -> dict:
    spec = T.MATH_PROBLEMS[example["problem"]]
    steps = _solve(spec["steps"], example["numbers"])
    answer = steps[-1][1]
    ctx = {**example["numbers"], "s": steps[0][1], "r": answer}
    ctx.update({f"eq{i}": equation for i, (equation, _) in enumerate(steps, 1)})
    ctx.update(_person("p", lang, example["p"]))
    ctx.update(_person("q", lang, example["q"]))
    question, solution = spec["text"][lang]
    solution = render(solution or T.MATH_TWO_STEP[lang], lang, ctx) + render(T.MATH_ANSWER[lang], lang, ctx)
    return {"question": render(question, lang, ctx), "solution": solution, "answer": str(answer)}


# ----------------------------------------------------------------------------------------------- api
def _draw_value(rng: random.Random, kind: str) -> int | str:
    """A parallel index for translated kinds (person, city, ...), else the literal value."""
    if kind == "person":
        return rng.randrange(len(T.NAMES["en"]))
    if kind in T.API_VALUES:
        return rng.randrange(len(T.API_VALUES[kind]["en"]))
    return _VALUE_DRAWS[kind](rng)


def _draw_api(rng: random.Random, api: int) -> dict:
    values: dict[str, int | str] = {}
    for key, kind in T.API_CATALOGUE[api]["args"].items():
        taken = [values[k] for k, other in T.API_CATALOGUE[api]["args"].items() if other == kind and k in values]
        values[key] = _draw_value(rng, kind)
        while values[key] in taken:  # e.g. origin != destination, from_currency != to_currency
            values[key] = _draw_value(rng, kind)
    return {"api": api, "variant": rng.randrange(2), "values": values}


def _api_row(example: dict, lang: str) -> dict:
    api = T.API_CATALOGUE[example["api"]]
    ctx: dict = {}
    arguments: dict[str, str] = {}
    for key, kind in api["args"].items():
        value = example["values"][key]
        if kind == "person":
            ctx.update(_person(key, lang, value))
            arguments[key] = ctx[key]
        else:
            arguments[key] = T.API_VALUES[kind][lang][value] if kind in T.API_VALUES else value
    templates = api["requests"][lang]
    request = render(templates[example["variant"] % len(templates)], lang, {**ctx, **arguments})
    call = f"{api['name']}({', '.join(f'{k}={_quote(v)}' for k, v in arguments.items())})"
    return {"api_name": api["name"], "api_doc": api["doc"], "request": request, "call": call, "arguments": arguments}


# ------------------------------------------------------------------------------------- summarization
def _draw_story(rng: random.Random, story: int) -> dict:
    return {"story": story, "city": rng.randrange(len(T.API_VALUES["city"]["en"])),
            "p": rng.randrange(len(T.NAMES["en"])), "n": rng.randint(5, 90)}


def _story_context(example: dict, lang: str) -> dict:
    return {"city": T.API_VALUES["city"][lang][example["city"]], **_person("p", lang, example["p"]),
            "n": example["n"], "k": example["n"] * 1000}


def _summary_row(example: dict, lang: str) -> dict:
    text, summary = S.STORIES[example["story"]][lang]
    ctx = _story_context(example, lang)
    return {"text": render(text, lang, ctx), "summary": render(summary, lang, ctx)}


# ----------------------------------------------------------------------------------------- instruction
INSTRUCTION_KEYS = ("kind", "n", "words", "text", "lang")  # every instruction row has the same columns


def _draw_request(rng: random.Random, request: int) -> dict:
    low, high = S.REQUESTS[request].get("n", (18, 80))
    return {"request": request, "city": rng.randrange(len(T.API_VALUES["city"]["en"])),
            "p": rng.randrange(len(T.NAMES["en"])), "n": rng.randint(low, high)}


def _request_row(example: dict, lang: str) -> dict:
    request = S.REQUESTS[example["request"]]
    prompt, response, *word = request[lang]
    ctx = {**_story_context(example, lang), "word": word[0] if word else "",
           "items": "\n".join(f"- {fruit}" for fruit in S.FRUITS[lang][:example["n"]])}
    instructions = []
    for item in request["instructions"]:
        n = item.get("n")
        if isinstance(n, dict):
            n = n.get(lang, n["*"])
        elif isinstance(n, str):
            n = int(render(n, lang, ctx))
        words = [render(w, lang, ctx) for w in item["words"]] if "words" in item else None
        instructions.append({"kind": item["kind"], "n": n, "words": words, "text": item.get("text"), "lang": item.get("lang")})
    return {"prompt": render(prompt, lang, ctx), "response": render(response, lang, ctx), "instructions": instructions}


# --------------------------------------------------------------------------------------------- write
def _templates(task: str, split: str) -> list[int]:
    """Problem templates (math: all of them) or APIs (train/validation: the train APIs; test: the test APIs)."""
    if task == "math":
        return list(range(len(T.MATH_PROBLEMS)))
    if task == "summarization":
        return list(range(len(S.STORIES)))
    if task == "instruction":
        return list(range(len(S.REQUESTS)))
    wanted = "test" if split == "test" else "train"
    return [i for i, api in enumerate(T.API_CATALOGUE) if api["split"] == wanted]


_DRAW = {"math": _draw_math, "api": _draw_api, "summarization": _draw_story, "instruction": _draw_request}
_ROW = {"math": _math_row, "api": _api_row, "summarization": _summary_row, "instruction": _request_row}


def _examples(task: str, counts: dict[str, int], seed: int) -> Iterator[tuple[str, str, dict]]:
    """(split, id, language-independent example); ids run on across splits.

    The template (or API) is drawn uniformly; its values are redrawn while the English text repeats an
    earlier example (up to _MAX_RESAMPLE times, so that APIs with few possible values still get their share).
    """
    rng = random.Random(f"polymix-sample-{task}-{seed}")
    seen: set[str] = set()
    number = 0
    for split in SPLITS:
        templates = _templates(task, split)
        for _ in range(counts[split]):
            template = rng.choice(templates)
            for _attempt in range(_MAX_RESAMPLE):
                example = _DRAW[task](rng, template)
                key = json.dumps(_ROW[task](example, "en"), sort_keys=True)
                if key not in seen:
                    break
            seen.add(key)
            yield split, f"{task}-{number:05d}", example
            number += 1


def write_sample_data(
    out_dir: str | Path, n_train: int = 1200, n_validation: int = 120, n_test: int = 120, seed: int = 0
) -> Path:
    """Write ``out_dir/{task}/{lang}/{split}.jsonl`` for every task and all 11 languages; return out_dir."""
    counts = {"train": n_train, "validation": n_validation, "test": n_test}
    if min(counts.values()) < 0:
        raise ValueError(f"row counts must be >= 0, got {counts}")
    out_dir = Path(out_dir)
    for task in TASKS:
        by_split: dict[str, list[tuple[str, dict]]] = {split: [] for split in SPLITS}
        for split, row_id, example in _examples(task, counts, seed):
            by_split[split].append((row_id, example))
        for lang in ALL_LANGUAGES:
            folder = out_dir / task / lang
            folder.mkdir(parents=True, exist_ok=True)
            for split, examples in by_split.items():
                lines = [
                    json.dumps({"id": row_id, **_ROW[task](example, lang)}, ensure_ascii=False) + "\n"
                    for row_id, example in examples
                ]
                (folder / f"{split}.jsonl").write_text("".join(lines), encoding="utf-8", newline="\n")
    return out_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--n-train", type=int, default=1200)
    parser.add_argument("--n-validation", type=int, default=120)
    parser.add_argument("--n-test", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = write_sample_data(args.out_dir, args.n_train, args.n_validation, args.n_test, args.seed)
    print(path)


if __name__ == "__main__":
    main()
