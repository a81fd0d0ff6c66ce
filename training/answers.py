"""Numeric answers of math data: the final number of a worked solution or a completion, and how a gold one is written.

Below the task registry (``training.tasks.math`` re-exports them) because the dataset readers of
``training.loaders``, which the math task declares, use them too: kept in the task module they would make an import
cycle.
"""

from __future__ import annotations

import re

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def extract_number(text: str) -> float | None:
    """The last number in ``text`` (thousands separators dropped): a chain of thought's final answer."""
    matches = _NUMBER.findall(text)
    if not matches:
        return None
    try:
        return float(matches[-1].replace(",", ""))
    except ValueError:
        return None


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
    numbers = _NUMBER.findall(last)
    if len(numbers) != 1 or _NOT_A_NUMBER.search(last):
        return None
    return extract_number(last)


def format_number(value: float) -> str:
    """12.0 → "12", 0.5 → "0.5": how a gold answer is written."""
    return str(int(value)) if value == int(value) else repr(value)
