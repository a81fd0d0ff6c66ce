"""Text as the scorers read it: words in any script (what ROUGE-L compares and a word limit counts), and JSON
documents (what a JSON instruction asks for and what language fidelity does not judge).

Scripts written with spaces between words (Latin, Cyrillic, Bengali, Telugu, ...) give one token per run of
letters, combining marks and digits, so a Bengali vowel sign stays inside its word. Scripts written without
spaces (Han, Hiragana, Katakana, Thai) give one token per character: a segmenter per language would be
finer, but characters are what multilingual ROUGE falls back to and they need no model. Case is folded.
"""

from __future__ import annotations

import json

import regex

_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}"
_WORD = regex.compile(rf"[{_UNSPACED}]|[^{_UNSPACED}\s\p{{P}}\p{{S}}]+")


def words(text: str) -> list[str]:
    """``"Кошка сидела"`` → ``["кошка", "сидела"]``; ``"猫坐在垫子上"`` → ``["猫", "坐", "在", "垫", "子", "上"]``."""
    return _WORD.findall(text.casefold())


class WordTokenizer:
    """``words`` in the shape rouge_score's RougeScorer takes for its ``tokenizer``."""

    def tokenize(self, text: str) -> list[str]:
        return words(text)


_FENCE = regex.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?```\s*$", regex.DOTALL)
NOT_JSON = object()  # (``null`` is a JSON value too, so failure needs its own marker)


def json_document(text: str):
    """The JSON value ``text`` holds as a whole (a Markdown code fence allowed), or ``NOT_JSON``."""
    fenced = _FENCE.match(text)
    try:
        return json.loads(fenced.group(1) if fenced else text)
    except ValueError:
        return NOT_JSON
