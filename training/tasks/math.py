"""Math word problems answered with a chain of thought (MGSM-style).

Mirrors MGSM (juletxara/mgsm: grade-school problems translated into ten languages, test only, the answer a number)
for testing and mCoT-MATH (laihuiyuan/mCoT-MATH: worked solutions in the same languages) for training. A row is
``{"id", "question", "solution", "answer"}``; the model learns the worked solution and is scored on its final
number. The sample data draws two-step problems whose every intermediate result is a whole number in 1..100.
"""

from __future__ import annotations

import operator
import random

from training import loaders
from training import sample_tables as tables
from training.answers import extract_number, format_number, numeric_final_answer  # noqa: F401 (the task's helpers)
from training.sample_render import person, render
from training.tasks.base import SampleGenerator, SourceFormat, Task

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


def _prompt(record: dict, lang: str) -> str:
    return f"{QUESTION[lang]} {record['question']}\n{STEP_BY_STEP[lang]}\n"


def _stop(lang: str) -> tuple[str, ...]:
    return (QUESTION[lang],)


# ------------------------------------------------------------------------------------------- sample data
_OPS = {"+": (operator.add, "+"), "-": (operator.sub, "-"), "*": (operator.mul, "×")}


def _solve(steps: list[str], numbers: dict[str, int]) -> list[tuple[str, int]]:
    """Evaluate steps like "a + b", "s - c" ("s" = previous result) into (equation text, result)."""
    values, out = dict(numbers), []
    for step in steps:
        x, op, y = step.split()
        function, symbol = _OPS[op]
        result = function(values[x], values[y])
        out.append((f"{values[x]} {symbol} {values[y]} = {result}", result))
        values["s"] = result
    return out


def _templates(split: str) -> list[int]:
    return list(range(len(tables.MATH_PROBLEMS)))  # every problem in every split: the numbers differ


def _draw_math(rng: random.Random, problem: int) -> dict:
    spec = tables.MATH_PROBLEMS[problem]
    while True:  # every intermediate and final result in 1..100
        numbers = {var: rng.randint(lo, hi) for var, (lo, hi) in spec["vars"].items()}
        if all(1 <= result <= 100 for _, result in _solve(spec["steps"], numbers)):
            break
    p, q = rng.sample(range(len(tables.NAMES["en"])), 2)
    return {"problem": problem, "numbers": numbers, "p": p, "q": q}


def _math_row(example: dict, lang: str) -> dict:
    spec = tables.MATH_PROBLEMS[example["problem"]]
    steps = _solve(spec["steps"], example["numbers"])
    answer = steps[-1][1]
    ctx = {**example["numbers"], "s": steps[0][1], "r": answer}
    ctx.update({f"eq{i}": equation for i, (equation, _) in enumerate(steps, 1)})
    ctx.update(person("p", lang, example["p"]))
    ctx.update(person("q", lang, example["q"]))
    question, solution = spec["text"][lang]
    solution = render(solution or tables.MATH_TWO_STEP[lang], lang, ctx) + render(tables.MATH_ANSWER[lang], lang, ctx)
    return {"question": render(question, lang, ctx), "solution": solution, "answer": str(answer)}


TASK = Task(
    name="math",
    required_fields=("id", "question", "solution", "answer"),
    prompt=_prompt,
    target=lambda record: record["solution"],
    # Chains of thought run to hundreds of tokens, more in the scripts that tokenise long (bn, te, th).
    max_new_tokens=512,
    stop=_stop,
    scorer="numeric_answer",
    prose=True,
    # The same template and numbers are the same problem (and answer), whoever is named in it.
    sample=SampleGenerator(templates=_templates, draw=_draw_math, row=_math_row,
                           problem=lambda example: (example["problem"], sorted(example["numbers"].items()))),
    sources={
        "mgsm": SourceFormat(("test",), lambda source, split, languages, seed, counts:
                             loaders.read_mgsm(source["path"], languages)),
        "mcot_math": SourceFormat(("train",), lambda source, split, languages, seed, counts: loaders.read_mcot_math(
            source["path"], languages, source.get("file"), source.get("sample"), seed, counts), samples_itself=True),
    },
)
