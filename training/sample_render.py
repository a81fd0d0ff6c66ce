"""Rendering the sample data's templates: filling placeholders, people's names and their grammatical forms, argument
values. The task modules' sample generators (``training/tasks``) build their rows with these; the write loop
(:mod:`training.sample_data`) is above them both, so the imports run one way.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from training import sample_tables as tables

_TOKEN = re.compile(r"\{(\w+)((?:\|[^{}|]*)*)\}")

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


def placeholders(template: str) -> list[tuple[str, bool]]:
    """The ``{key}`` placeholders of ``template`` in order, each with whether it chooses among forms (``{n|a|b}``)."""
    return [(match.group(1), bool(match.group(2))) for match in _TOKEN.finditer(template)]


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
