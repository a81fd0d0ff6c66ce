"""Verifiable instructions, checked by code in the style of IFEval (Zhou et al., 2023).

An instruction-following example lists the constraints its response must meet, each a mapping with ``kind`` and
the one parameter that kind takes (the other keys may be absent or null, so every row has the same columns):

- ``max_words`` / ``min_words`` with ``n``: at most / at least n words (evaluation.text.words: a Han, Kana or Thai
  character counts as a word, so limits hold across scripts);
- ``keywords`` with ``words``: every listed word appears (case-folded); ``forbidden`` with ``words``: none appears;
- ``bullets`` with ``n``: at least n bulleted or numbered lines; ``json``: the whole response (a Markdown code
  fence allowed) is valid JSON; ``ends_with`` with ``text``: the response ends with that text;
- ``language`` with ``lang`` (default: the prompt's language): the response is written in it (evaluation.fidelity).

A response passes when it meets every constraint (IFEval's strict prompt-level accuracy); the share of
constraints met is kept too (instruction-level).
"""

from __future__ import annotations

from collections.abc import Callable

import regex

from evaluation.fidelity import is_faithful
from evaluation.text import NOT_JSON, json_document, words

_BULLET = regex.compile(r"^\s*(?:[-*•]|\d+[.)])\s+\S", regex.MULTILINE)


CHECKS: dict[str, Callable[[str, dict, str], bool]] = {
    "max_words": lambda response, item, lang: len(words(response)) <= item["n"],
    "min_words": lambda response, item, lang: len(words(response)) >= item["n"],
    "keywords": lambda response, item, lang: all(w.casefold() in response.casefold() for w in item["words"]),
    "forbidden": lambda response, item, lang: not any(w.casefold() in response.casefold() for w in item["words"]),
    "bullets": lambda response, item, lang: len(_BULLET.findall(response)) >= item["n"],
    "json": lambda response, item, lang: json_document(response) is not NOT_JSON,
    "ends_with": lambda response, item, lang: response.rstrip().endswith(item["text"]),
    "language": lambda response, item, lang: is_faithful(response, item.get("lang") or lang) is True,
}
# The parameter each kind needs (checked when the data is loaded, before any job starts).
PARAMETER = {"max_words": "n", "min_words": "n", "keywords": "words", "forbidden": "words", "bullets": "n",
             "ends_with": "text"}


def problems(instructions: list[dict]) -> list[str]:
    """What is wrong with an example's instruction list (unknown kinds, missing parameters), for the data check."""
    found = []
    for item in instructions:
        kind = item.get("kind")
        if kind not in CHECKS:
            found.append(f"unknown instruction kind {kind!r} (known: {', '.join(CHECKS)})")
        elif kind in PARAMETER and item.get(PARAMETER[kind]) is None:
            found.append(f"instruction {kind!r} needs {PARAMETER[kind]!r}")
    return found


def check(response: str, instructions: list[dict], lang: str) -> list[bool]:
    """One verdict per instruction, in order."""
    return [CHECKS[item["kind"]](response, item, lang) for item in instructions]
