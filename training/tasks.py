"""Task formats: how a parallel record becomes a prompt and a training target.

One task = prompt + target here (training needs both); answer extraction and metrics live in
``evaluation.scorers``, registered under the same names. Per-language variants share one definition,
differing only in the localised instruction.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

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

# MGSM-style chain-of-thought cue, in each language (docs/studies.md §1a: the prompt ends with it).
STEP_BY_STEP: dict[str, str] = {
    "en": "Let's think step by step.",
    "es": "Pensemos paso a paso.",
    "ja": "段階的に考えましょう。",
    "bn": "আসুন ধাপে ধাপে চিন্তা করি।",
    "sw": "Hebu tufikiri hatua kwa hatua.",
    "te": "దశలవారీగా ఆలోచిద్దాం.",
    "fr": "Réfléchissons étape par étape.",
    "de": "Denken wir Schritt für Schritt nach.",
    "ru": "Давайте думать шаг за шагом.",
    "zh": "让我们一步一步地思考。",
    "th": "ลองคิดทีละขั้นตอน",
}


# The word that opens a math question, per language (the words lm-evaluation-harness's native-language MGSM
# prompts use): the prompt starts with it, and generation stops where a model starts a new question with it.
QUESTION: dict[str, str] = {
    "en": "Question:",
    "es": "Pregunta:",
    "ja": "問題：",
    "bn": "প্রশ্ন:",
    "sw": "Swali:",
    "te": "ప్రశ్న:",
    "fr": "Question :",
    "de": "Frage:",
    "ru": "Задача:",
    "zh": "问题：",
    "th": "โจทย์:",
}


# Summarization (XLSum-style): the instruction before the article and the cue before the summary, per language.
SUMMARIZE: dict[str, tuple[str, str]] = {
    "en": ("Summarize the following article in one sentence.", "Summary:"),
    "es": ("Resume el siguiente artículo en una frase.", "Resumen:"),
    "ja": ("次の記事を一文で要約してください。", "要約："),
    "bn": ("নিচের নিবন্ধটি এক বাক্যে সংক্ষেপ করুন।", "সারাংশ:"),
    "sw": ("Fupisha makala ifuatayo kwa sentensi moja.", "Muhtasari:"),
    "te": ("కింది వ్యాసాన్ని ఒక వాక్యంలో సంగ్రహించండి.", "సారాంశం:"),
    "fr": ("Résumez l'article suivant en une phrase.", "Résumé :"),
    "de": ("Fasse den folgenden Artikel in einem Satz zusammen.", "Zusammenfassung:"),
    "ru": ("Кратко изложите следующую статью в одном предложении.", "Краткое содержание:"),
    "zh": ("请用一句话概括下面的文章。", "摘要："),
    "th": ("สรุปบทความต่อไปนี้ในหนึ่งประโยค", "สรุป:"),
}


@dataclass(frozen=True)
class TaskFormat:
    name: str
    required_fields: tuple[str, ...]
    prompt: Callable[[dict, str], str]
    target: Callable[[dict], str]
    # The generation budget (new tokens; a study may set its own, eval.max_new_tokens): the task's, never derived
    # from the reference answers, which a test set may not even have (MGSM rows hold the answer number only).
    max_new_tokens: int
    # Strings that end a completion besides EOS, per language: the start of a new question or turn in the format.
    stop: Callable[[str], tuple[str, ...]] = lambda lang: ()  # default: EOS only


def _math_prompt(record: dict, lang: str) -> str:
    return f"{QUESTION[lang]} {record['question']}\n{STEP_BY_STEP[lang]}\n"


def _api_prompt(record: dict, lang: str) -> str:
    return f"API: {record['api_doc']}\n{record['request']}\nAPI-Request: "


def _summarization_prompt(record: dict, lang: str) -> str:
    instruction, cue = SUMMARIZE[lang]
    return f"{instruction}\n\n{record['text']}\n\n{cue} "


def _instruction_prompt(record: dict, lang: str) -> str:
    return f"{record['prompt']}\n"


def _one_line(lang: str) -> tuple[str, ...]:
    return ("\n",)  # an API call, and a one-sentence summary, are one line


def _question(lang: str) -> tuple[str, ...]:
    return (QUESTION[lang],)


TASKS: dict[str, TaskFormat] = {
    # Chains of thought run to hundreds of tokens, more in the scripts that tokenise long (bn, te, th).
    "math": TaskFormat(
        "math", ("id", "question", "solution", "answer"), _math_prompt, lambda r: r["solution"], 512,
        stop=_question,
    ),
    "api": TaskFormat(
        "api", ("id", "api_doc", "request", "call"), _api_prompt, lambda r: r["call"], 128, stop=_one_line
    ),
    "summarization": TaskFormat(
        "summarization", ("id", "text", "summary"), _summarization_prompt, lambda r: r["summary"], 256, stop=_one_line
    ),
    # Instruction following (Aya-Dolly-style prompt and response, with IFEval-style verifiable instructions):
    # responses run over several lines and paragraphs, so only EOS (or the budget) ends them.
    "instruction": TaskFormat(
        "instruction", ("id", "prompt", "response", "instructions"), _instruction_prompt, lambda r: r["response"], 512
    ),
}


def get_task(name: str) -> TaskFormat:
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(TASKS)}") from None
