"""Numeric answers of math data: the final number of a worked solution or a completion, and how a gold one is written.

Below the task registry (``training.tasks.math`` re-exports them) because the dataset readers of
``training.loaders``, which the math task declares, use them too: kept in the task module they would make an import
cycle.
"""

from __future__ import annotations

import re

# A run of digits (any script's: Python's float reads Bengali or full-width digits) joined by single separators; which
# separator groups digits is the language's convention (NUMBER_FORMATS); the other of "." and "," marks decimals.
_NUMBER = re.compile(r"-?\d+(?:[.,\u00a0\u202f ]\d+)*")
_PART = re.compile(r"([.,\u00a0\u202f ])")
# language → (grouping separator, sizes of a digit group after the first): CLDR's conventions for the study's
# languages (bn and te group lakhs and crores: 1,00,000); en's for any other. A no-break space groups in every
# language, a plain space only where the language groups with spaces.
NUMBER_FORMATS = {"es": (".", (3,)), "de": (".", (3,)), "fr": (" ", (3,)), "ru": (" ", (3,)),
                  "bn": (",", (2, 3)), "te": (",", (2, 3))}
_ENGLISH = (",", (3,))


def _numbers(token: str, lang: str | None) -> list[float]:
    """The numbers one run of digits and separators writes in ``lang``: "1.250" is 1250 in es and 1.25 in en,
    "1 000" 1000 in fr; a separator that fits neither reading ends one number and starts the next."""
    group, sizes = NUMBER_FORMATS.get(lang, _ENGLISH)
    groups = {group, "\u00a0", "\u202f"}
    sign, token = ("-", token[1:]) if token.startswith("-") else ("", token)
    parts = _PART.split(token)
    numbers, whole, fraction = [], parts[0], None
    for separator, digits in zip(parts[1::2], parts[2::2]):
        if fraction is None and separator in groups and len(digits) in sizes:
            whole += digits
        elif fraction is None and separator in ".,":
            fraction = digits  # the decimal mark, or the grouping mark where it cannot group ("1.5" in es, "2,5" in en)
        else:
            numbers.append(whole + ("." + fraction if fraction is not None else ""))
            whole, fraction = digits, None
    numbers.append(whole + ("." + fraction if fraction is not None else ""))
    return [float(sign + numbers[0])] + [float(n) for n in numbers[1:]]


def extract_number(text: str, lang: str | None = None) -> float | None:
    """The last number in ``text`` as ``lang`` writes numbers (en's convention when None): a chain of thought's
    final answer. "2,5" is 2.5 in es, de, fr and ru; "1.250" is 1250 there; "1 000" is 1000 in fr and ru."""
    matches = _NUMBER.findall(text)
    if not matches:
        return None
    try:
        return _numbers(matches[-1], lang)[-1]
    except ValueError:
        return None


def answer_readings(text: str, lang: str | None) -> set[float]:
    """The final number of ``text`` as ``lang`` writes numbers and, in a language whose decimal mark is the comma
    (es, de, fr, ru), as en writes them too: models and machine-translated training data often keep English digits
    ("1,000" in Spanish text), and the two readings differ only for one "." or "," before exactly three digits. A
    number grouped with spaces has one reading: en's would split it."""
    readings = {extract_number(text, lang)}
    matches = _NUMBER.findall(text)
    if NUMBER_FORMATS.get(lang, _ENGLISH)[0] != "," and matches and not re.search(r"\s", matches[-1]):
        readings.add(extract_number(text, None))
    return readings - {None}


_SENTENCE_END = re.compile(r"(?<=[。！？।])|(?<=[.!?])\s+|\n")
# Markup of an answer that is not one number: LaTeX (\frac, \sqrt, \text{...}), powers, fractions, intervals.
_NOT_A_NUMBER = re.compile(r"[\\{}^_/√π∞\[\]()]")


def numeric_final_answer(solution: str) -> float | None:
    """The final answer of a worked solution when it is one number, else None.

    The answer is in the last sentence, after its last colon when it has one ("The answer is: 18", "Ответ: 18",
    "答えは18です。"); MATH-derived answers (``\\frac{1}{2}``, ``2\\sqrt{2}``, ``(-\\infty, 2)``, ``3/4``, several
    roots) are not numbers, and a solution whose last sentence has none has no numeric answer either.
    """
    sentences = [part.strip() for part in _SENTENCE_END.split(str(solution or "")) if part and part.strip()]
    if not sentences:
        return None
    last = re.split(r"[:：]", sentences[-1])[-1]
    numbers = [number for token in _NUMBER.findall(last) for number in _numbers(token, None)]
    if len(numbers) != 1 or _NOT_A_NUMBER.search(last):
        return None
    return extract_number(last)


def format_number(value: float) -> str:
    """12.0 → "12", 0.5 → "0.5": how a gold answer is written."""
    return str(int(value)) if value == int(value) else repr(value)
