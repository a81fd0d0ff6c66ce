"""The language registry: the 11 MGSM languages of "English is Not All You Need" (docs/studies.md §1a)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    resource: str  # "high" | "low"
    family: str
    script: str
    role: str  # "core" (trained and evaluated) | "eval_only" | "train_only"


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English", "high", "Germanic", "Latin", "core"),
        Language("es", "Spanish", "high", "Romance", "Latin", "core"),
        Language("ja", "Japanese", "high", "Japonic", "Kanji+Kana", "core"),
        Language("bn", "Bengali", "low", "Indic", "Bengali", "core"),
        Language("sw", "Swahili", "low", "Niger-Congo", "Latin", "core"),
        Language("te", "Telugu", "low", "Dravidian", "Telugu", "eval_only"),
        Language("fr", "French", "high", "Romance", "Latin", "train_only"),
        Language("de", "German", "high", "Germanic", "Latin", "train_only"),
        Language("ru", "Russian", "high", "Slavic", "Cyrillic", "train_only"),
        Language("zh", "Chinese", "high", "Sino-Tibetan", "Han", "train_only"),
        Language("th", "Thai", "low", "Kra-Dai", "Thai", "train_only"),
    )
}

ALL_LANGUAGES: tuple[str, ...] = tuple(LANGUAGES)
TRAINABLE_LANGUAGES: tuple[str, ...] = tuple(code for code, language in LANGUAGES.items() if language.role != "eval_only")


def get_language(code: str) -> Language:
    try:
        return LANGUAGES[code]
    except KeyError:
        raise KeyError(f"unknown language {code!r}; known: {', '.join(ALL_LANGUAGES)}") from None
