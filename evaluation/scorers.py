"""Answer extraction and metrics per task, registered under the task names of ``training.tasks``.

- math: the last number in the completion equals the gold final number (MGSM-style accuracy);
- api: the completion's first call has the gold API name and exactly the gold arguments and values
  (API-Bank exact match).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from training.tasks import extract_number

def score_math(completion: str, record: dict) -> bool:
    predicted = extract_number(completion)
    return predicted is not None and predicted == float(str(record["answer"]).replace(",", ""))


def parse_call(text: str) -> tuple[str, dict[str, str]] | None:
    """``Name(key='value', ...)`` → (name, {key: value}); None when there is no well-formed call."""
    match = re.search(r"[A-Za-z_][\w.]*\(", text)
    if not match:
        return None
    depth, quote = 0, None
    for end in range(match.end() - 1, len(text)):
        char = text[end]
        if quote:
            if char == quote and text[end - 1] != "\\":
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                break
    else:
        return None
    try:
        call = ast.parse(text[match.start() : end + 1], mode="eval").body
        if not isinstance(call, ast.Call) or call.args:
            return None
        arguments = {kw.arg: str(ast.literal_eval(kw.value)) for kw in call.keywords}
    except (SyntaxError, ValueError, TypeError):
        return None
    return ast.unparse(call.func), arguments


def score_api(completion: str, record: dict) -> bool:
    predicted = parse_call(completion)
    return predicted is not None and predicted == parse_call(record["call"])


SCORERS: dict[str, Callable[[str, dict], bool]] = {"math": score_math, "api": score_api}
