"""Answer extraction and metrics per task, registered under the task names of ``training.tasks``.

Every scorer gives, per response, the task's score under ``acc`` (what the study reports as ``eval/acc/<lang>``,
compares and selects checkpoints by) and any further metrics of the task:
- math: the last number in the completion equals the gold final number (MGSM-style accuracy);
- api: the completion's first call has the gold API name and exactly the gold arguments and values
  (API-Bank exact match);
- summarization: ROUGE-L F1 on script-aware words (``acc``) and chrF (``chrf``) against the gold summary;
- instruction: 1 when the response meets every verifiable instruction of its example (``acc``, IFEval's strict
  prompt-level accuracy), the share of instructions met (``instructions``), and chrF to the reference (``chrf``);
  an example with no verifiable instruction (Aya Dolly) scores chrF × "written in the prompt's language" as
  ``acc``, and ``scored_by_chrf`` says which share of a language's examples were scored so.
``prose`` says whether responses are text in the prompt's language, whose language fidelity is measured (an API
call is code: it is not).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass

from evaluation.instructions import check
from evaluation.summarization import chrf, rouge_l
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


def score_summary(completion: str, record: dict, lang: str) -> dict[str, float]:
    summary = completion.strip().split("\n", 1)[0]  # a summary is one line: what follows is not part of it
    return {"acc": rouge_l(summary, record["summary"]), "chrf": chrf(summary, record["summary"])}


def score_instructions(completion: str, record: dict, lang: str) -> dict[str, float]:
    response = completion.strip()
    verdicts = check(response, record["instructions"], lang)
    quality = chrf(response, record["response"])
    # A row with no verifiable instruction (Aya Dolly: only its language can be checked) would pass any answer in
    # the right language, whatever it says; it scores its chrF to the reference instead, 0 in a wrong language.
    verifiable = any(item["kind"] != "language" for item in record["instructions"])
    return {"acc": float(all(verdicts)) if verifiable else quality * all(verdicts),
            "instructions": sum(verdicts) / len(verdicts) if verdicts else 1.0, "chrf": quality,
            "scored_by_chrf": float(not verifiable)}  # the share of rows whose acc is chrF × language, per language


@dataclass(frozen=True)
class Scorer:
    score: Callable[[str, dict, str], dict[str, float]]  # (completion, record, language) → {"acc": ..., ...}
    prose: bool
    # Whether eval.wrong_language_scores_zero applies: the tasks whose paper scores an answer in another language 0
    # (the Post-trainer's Guide's instruction following), not math, whose answer is a number in any language.
    language_penalty: bool = False


SCORERS: dict[str, Scorer] = {
    "math": Scorer(lambda completion, record, lang: {"acc": float(score_math(completion, record))}, prose=True),
    "api": Scorer(lambda completion, record, lang: {"acc": float(score_api(completion, record))}, prose=False),
    "summarization": Scorer(score_summary, prose=True),
    "instruction": Scorer(score_instructions, prose=True, language_penalty=True),
}
