"""Answer extraction and metrics, registered by scorer name; a task (``training.tasks``) names its scorer.

Every scorer gives, per response, the task's score under ``acc`` (what the study reports as ``eval/acc/<lang>``,
compares and selects checkpoints by) and any further metrics of the task:
- ``numeric_answer`` (math): the last number in the completion equals the gold final number (MGSM-style accuracy);
- ``api_call`` (api): the completion's first call has the gold API name and exactly the gold arguments and values
  (API-Bank exact match);
- ``rouge_l`` (summarization): ROUGE-L F1 on script-aware words (``acc``) and chrF (``chrf``) against the gold
  summary;
- ``verifiable_instructions`` (instruction): 1 when the response meets every verifiable instruction of its example
  (``acc``, IFEval's strict prompt-level accuracy), the share of instructions met (``instructions``), and chrF to the
  reference (``chrf``); an example with no verifiable instruction (Aya Dolly) scores chrF × "written in the prompt's
  language" as ``acc``, and ``scored_by_chrf`` says which share of a language's examples were scored so.
Whether a task's responses are prose (language fidelity) and penalised in a wrong language is the task's
(``Task.prose``, ``Task.language_penalty``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass

from evaluation.instructions import check
from evaluation.instructions import problems as instruction_problems
from evaluation.summarization import chrf, rouge_l
from training.errors import ConfigError
from training.tasks import Task, extract_number

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


def _instruction_row_problems(record: dict) -> list[str]:
    return [f"{problem}; fix its instructions (kinds and parameters: README, instruction following)"
            for problem in instruction_problems(record.get("instructions") or [])]


@dataclass(frozen=True)
class Scorer:
    score: Callable[[str, dict, str], dict[str, float]]  # (completion, record, language) → {"acc": ..., ...}
    # What makes a data row one this scorer cannot score (instruction kinds it does not know, a missing parameter),
    # checked on every split before any job starts; None when every row with the task's fields can be scored.
    row_problems: Callable[[dict], list[str]] | None = None


SCORERS: dict[str, Scorer] = {
    "numeric_answer": Scorer(lambda completion, record, lang: {"acc": float(score_math(completion, record))}),
    "api_call": Scorer(lambda completion, record, lang: {"acc": float(score_api(completion, record))}),
    "rouge_l": Scorer(score_summary),
    "verifiable_instructions": Scorer(score_instructions, row_problems=_instruction_row_problems),
}


def scorer_for(task: Task) -> Scorer:
    """The scorer ``task`` names; a clear error when it names none registered here."""
    try:
        return SCORERS[task.scorer]
    except KeyError:
        raise ConfigError(f"task {task.name!r} names scorer {task.scorer!r}, which is not registered in "
                          f"evaluation/scorers.py (known scorers: {', '.join(SCORERS)}); register it in SCORERS "
                          "or name a known one") from None
