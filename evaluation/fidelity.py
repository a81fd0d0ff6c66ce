"""Language fidelity: is a response written in the language of its prompt? Detected offline with lingua.

The detector knows the 11 study languages only (training/languages.py): a response is assigned the closest of
them, so an answer in a language outside the study (say Portuguese for a Spanish prompt) can pass as its
neighbour. Text with no letter (a number, a formula) and JSON documents have no language: they are neither
faithful nor unfaithful, and are left out of the share.
"""

from __future__ import annotations

from functools import lru_cache

import regex

from evaluation.text import json_document
from training.languages import ALL_LANGUAGES

_LETTER = regex.compile(r"\p{L}")


@lru_cache(maxsize=1)
def _detector():
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in ALL_LANGUAGES]
    return LanguageDetectorBuilder.from_languages(*languages).build()


def detect_language(text: str) -> str | None:
    """The study language ``text`` is written in (ISO 639-1 code), or None for text without a language: no
    letter at all, or a JSON document."""
    if not _LETTER.search(text) or isinstance(json_document(text.strip()), (dict, list)):
        return None
    language = _detector().detect_language_of(text)
    return language.iso_code_639_1.name.lower() if language is not None else None


def is_faithful(text: str, lang: str) -> bool | None:
    """Whether ``text`` is in ``lang``; None when it has no language to judge."""
    detected = detect_language(text)
    return None if detected is None else detected == lang


def fidelity(texts: list[str], lang: str) -> tuple[float | None, int]:
    """The share of ``texts`` written in ``lang`` among those with a language, and how many were judged."""
    judged = [verdict for verdict in (is_faithful(text, lang) for text in texts) if verdict is not None]
    return (sum(judged) / len(judged) if judged else None), len(judged)
