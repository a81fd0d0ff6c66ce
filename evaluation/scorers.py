"""Answer extraction and metrics, registered by scorer name; a task (``training.tasks``) names its scorer.

Every scorer gives, per response, the task's score under ``acc`` (what the study reports as ``eval/acc/<lang>``,
compares and selects checkpoints by) and any further metrics of the task:
- ``numeric_answer`` (math): the last number in the completion equals the gold final number (MGSM-style accuracy),
  and ``unparsed``: the completion holds no number;
- ``api_call`` (api): the completion's first call has the gold API name and exactly the gold arguments and values
  (API-Bank exact match), and ``unparsed``: it holds no well-formed call;
- ``rouge_l`` (summarization): ROUGE-L F1 on script-aware words (``acc``) and chrF (``chrf``) against the gold
  summary, and where the rows list a summary's facts (the sample data) the share of them the summary states
  (``facts``);
- ``verifiable_instructions`` (instruction): 1 when the response meets every verifiable instruction of its example
  (``acc``, IFEval's strict prompt-level accuracy), the share of instructions met (``instructions``), and chrF to the
  reference (``chrf``); an example with no verifiable instruction (Aya Dolly) scores chrF × "written in the prompt's
  language" as ``acc``, and ``scored_by_chrf`` says which share of a language's examples were scored so.
Whether a task's responses are prose (language fidelity) and penalised in a wrong language is the task's
(``Task.prose``, ``Task.language_penalty``). :func:`check_task_registry` checks every registered task against
this registry.
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from evaluation.instructions import check
from evaluation.instructions import problems as instruction_problems
from evaluation.summarization import chrf, rouge_l
from training.errors import ConfigError
from training.languages import ALL_LANGUAGES
from training.sample_data import SPLITS
from training.tasks import TASKS, SampleGenerator, SourceFormat, Task, answer_readings


def score_math(completion: str, record: dict, lang: str | None = None) -> bool:
    return math_scores(completion, record, lang)["acc"] == 1.0


def math_scores(completion: str, record: dict, lang: str | None) -> dict[str, float]:
    # the final number as the completion's language writes numbers, or as en does where the two readings differ
    readings = answer_readings(completion, lang)
    return {"acc": float(float(str(record["answer"]).replace(",", "")) in readings), "unparsed": float(not readings)}


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
    scores = {"acc": rouge_l(summary, record["summary"]), "chrf": chrf(summary, record["summary"])}
    if record.get("facts"):  # the sample data's rows list them (real XLSum rows do not)
        scores["facts"] = fact_recall(summary, record["facts"])
    return scores


def fact_recall(summary: str, facts: list[str]) -> float:
    """The share of ``facts`` the summary states: a number as a whole number (71000 is not in 171000), a name or place
    as written."""
    found = [re.search(rf"(?<!\d){re.escape(fact)}(?!\d)", summary) if fact.isdigit() else fact in summary for fact in facts]
    return sum(map(bool, found)) / len(facts)


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
    # Whether every score is 0 or 1 (a success count: Wilson intervals); else a mean of continuous scores (ROUGE-L,
    # chrF), whose interval comes from the scores' standard deviation (evaluation/report.py).
    binary: bool = True


SCORERS: dict[str, Scorer] = {
    # unparsed: the response holds no number (math) or no well-formed call (api) to compare with the gold one; a
    # language whose answers go unparsed scores low for its format, not its reasoning (eval/unparsed/<lang>)
    "numeric_answer": Scorer(math_scores),
    "api_call": Scorer(lambda completion, record, lang: {"acc": float(score_api(completion, record)),
                                                         "unparsed": float(parse_call(completion) is None)}),
    "rouge_l": Scorer(score_summary, binary=False),
    # (rows without a verifiable instruction score chrF: docs/validity.md)
    "verifiable_instructions": Scorer(score_instructions, row_problems=_instruction_row_problems, binary=False),
}


def scorer_for(task: Task) -> Scorer:
    """The scorer ``task`` names; a clear error when it names none registered here."""
    try:
        return SCORERS[task.scorer]
    except KeyError:
        raise ConfigError(f"task {task.name!r} names scorer {task.scorer!r}, which is not registered in "
                          f"evaluation/scorers.py (known scorers: {', '.join(SCORERS)}); register it in SCORERS "
                          "or name a known one") from None


def task_problems(task: Task) -> list[str]:
    """What is missing or broken in one task's declaration: its parts, its scorer, its readers, and rows drawn
    from its sample generator (every split, every language) that must have its required fields, give a prompt,
    a target and stop strings, and pass its scorer's row check. (The scorer is not run: some load a language
    detector, too slow for a check that runs with every study's validation.)"""
    problems = []
    if not task.name:
        problems.append("name: empty")
    if not task.required_fields or "id" not in task.required_fields:
        problems.append(f"required_fields: {task.required_fields!r}; list the row's columns, 'id' among them")
    for part in ("prompt", "target", "stop"):
        if not callable(getattr(task, part, None)):
            problems.append(f"{part}: missing (not callable)")
    if not isinstance(task.max_new_tokens, int) or task.max_new_tokens < 1:
        problems.append(f"max_new_tokens: {task.max_new_tokens!r}; give the task's generation budget (>= 1)")
    for part in ("prose", "language_penalty"):
        if not isinstance(getattr(task, part, None), bool):
            problems.append(f"{part}: {getattr(task, part, None)!r}; True or False")
    if task.check_splits is not None and not callable(task.check_splits):
        problems.append("check_splits: not callable")
    if task.scorer not in SCORERS:
        problems.append(f"scorer: {task.scorer!r} is not registered in evaluation/scorers.py (known scorers: "
                        f"{', '.join(SCORERS)})")
    if not isinstance(task.sources, Mapping):
        problems.append("sources: missing; map each dataset format the task reads to a SourceFormat")
    else:
        for fmt, source in task.sources.items():
            if not isinstance(source, SourceFormat) or not callable(source.read):
                problems.append(f"sources.{fmt}: no reader (a SourceFormat whose read is callable)")
            elif not source.splits or not set(source.splits) <= {"train", "test"}:
                problems.append(f"sources.{fmt}.splits: {source.splits!r}; name 'train' and/or 'test'")
    generator = task.sample
    if not isinstance(generator, SampleGenerator) or not all(
            callable(getattr(generator, part, None)) for part in ("templates", "draw", "row")):
        problems.append("sample: missing sample-data generator (a SampleGenerator of templates, draw and row)")
    elif not problems:  # (rows are only worth drawing from an otherwise complete task)
        problems.extend(_generated_row_problems(task))
    return problems


def _generated_row_problems(task: Task) -> list[str]:
    rng = random.Random(f"check-{task.name}")
    for split in SPLITS:
        try:
            templates = task.sample.templates(split)
            example = task.sample.draw(rng, templates[0])
        except Exception as error:  # (a broken generator is reported, not raised from the middle of the check)
            return [f"sample: drawing a {split} example failed ({type(error).__name__}: {error})"]
        for lang in ALL_LANGUAGES:
            try:
                record = {"id": f"{task.name}-00000", **task.sample.row(example, lang)}
            except Exception as error:
                return [f"sample: rendering a {split} row in {lang} failed ({type(error).__name__}: {error})"]
            if missing := [f for f in task.required_fields if f not in record]:
                return [f"sample: generated {split} rows in {lang} lack required field(s) {', '.join(missing)}"]
            try:
                texts = (task.prompt(record, lang), task.target(record))
                stop = task.stop(lang)
            except Exception as error:
                return [f"a generated {split} row in {lang}: prompt, target or stop failed "
                        f"({type(error).__name__}: {error})"]
            if not all(isinstance(text, str) for text in texts) or not isinstance(stop, tuple):
                return [f"a generated {split} row in {lang}: prompt and target must be str, stop a tuple"]
            row_problems = SCORERS[task.scorer].row_problems
            if row_problems and (found := row_problems(record)):
                return [f"a generated {split} row in {lang} cannot be scored: {found[0]}"]
    return []


def check_task_registry(tasks: Mapping[str, Task] | None = None) -> None:
    """Refuse a task registry (default: ``training.tasks.TASKS``) in which some task misses a part, names a
    scorer not registered here, declares no reader or generates rows without its required fields; the error names
    every such task and part."""
    tasks = TASKS if tasks is None else tasks
    problems = [f"task {name!r}: {problem}" for name, task in tasks.items() for problem in task_problems(task)]
    problems += [f"task {name!r}: registered under another name than its own ({task.name!r})"
                 for name, task in tasks.items() if name != task.name]
    if problems:
        raise ConfigError("the task registry is incomplete: " + "; ".join(problems))
