"""Instruction following: a request, answered over one or more lines in the request's language.

Mirrors the Dolly subset of the Aya collection (CohereForAI/aya_collection or aya_evaluation_suite: Dolly prompts
and responses translated, train and test), checked IFEval-style: a row is ``{"id", "prompt", "response",
"instructions"}`` where ``instructions`` lists verifiable constraints (word limits, keywords, bullets, JSON, an
ending, the answer's language). Aya Dolly's rows carry the language constraint only. The model learns the
response; a response passes when it meets every constraint, and one in another language can be scored 0
(``eval.wrong_language_scores_zero``).
"""

from __future__ import annotations

import random

from training import loaders
from training import sample_tables as tables
from training.sample_render import render, story_context
from training.tasks.base import SampleGenerator, SourceFormat, Task


def _prompt(record: dict, lang: str) -> str:
    return f"{record['prompt']}\n"


# ------------------------------------------------------------------------------------------- sample data
def _templates(split: str) -> list[int]:
    return list(range(len(tables.REQUESTS)))


def _draw_request(rng: random.Random, request: int) -> dict:
    low, high = tables.REQUESTS[request].get("n", (18, 80))
    return {"request": request, "city": rng.randrange(len(tables.API_VALUES["city"]["en"])),
            "p": rng.randrange(len(tables.NAMES["en"])), "n": rng.randint(low, high)}


def _request_row(example: dict, lang: str) -> dict:
    request = tables.REQUESTS[example["request"]]
    prompt, response, *word = request[lang]
    ctx = {**story_context(example, lang), "word": word[0] if word else "",
           "items": "\n".join(f"- {fruit}" for fruit in tables.FRUITS[lang][:example["n"]])}
    instructions = []
    for item in request["instructions"]:
        n = item.get("n")
        if isinstance(n, dict):
            n = n.get(lang, n["*"])
        elif isinstance(n, str):
            n = int(render(n, lang, ctx))
        words = [render(w, lang, ctx) for w in item["words"]] if "words" in item else None
        instructions.append({"kind": item["kind"], "n": n, "words": words, "text": item.get("text"), "lang": item.get("lang")})
    return {"prompt": render(prompt, lang, ctx), "response": render(response, lang, ctx), "instructions": instructions}


TASK = Task(
    name="instruction",
    required_fields=("id", "prompt", "response", "instructions"),
    prompt=_prompt,
    target=lambda record: record["response"],
    # Responses run over several lines and paragraphs, so only EOS (or the budget) ends them.
    max_new_tokens=512,
    scorer="verifiable_instructions",
    prose=True,
    language_penalty=True,
    # (the problem is the prompt: most requests name no one, and those that do are answered by what they name)
    sample=SampleGenerator(templates=_templates, draw=_draw_request, row=_request_row),
    sources={
        "aya_dolly": SourceFormat(("train", "test"), lambda source, split, languages, seed, counts:
                                  loaders.read_aya_dolly(source["path"], languages, source.get("file"))),
    },
)
