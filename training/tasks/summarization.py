"""Summarization: an article in, a one-sentence summary in the article's language out (XLSum-style).

Mirrors XLSum (csebuetnlp/xlsum: BBC articles and their one-sentence summaries, train and test; not parallel, no
German). A row is ``{"id", "text", "summary"}``; the model learns the summary and is scored by ROUGE-L on
script-aware words (with chrF beside it). The sample data renders short parallel news stories; its rows also list
the summary's ``facts`` (place, person, numbers), scored as their recall (``facts``), since a templated summary with
every fact wrong still shares most of its words with the reference.
"""

from __future__ import annotations

import random

from training import loaders
from training import sample_tables as tables
from training.sample_render import placeholders, render, story_context
from training.tasks.base import SampleGenerator, SourceFormat, Task

# The instruction before the article and the cue before the summary, per language.
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


def _prompt(record: dict, lang: str) -> str:
    instruction, cue = SUMMARIZE[lang]
    return f"{instruction}\n\n{record['text']}\n\n{cue}"


def _one_line(lang: str) -> tuple[str, ...]:
    return ("\n",)  # a one-sentence summary is one line


# ------------------------------------------------------------------------------------------- sample data
def _templates(split: str) -> list[int]:
    return list(range(len(tables.STORIES)))


def _draw_story(rng: random.Random, story: int) -> dict:
    return {"story": story, "city": rng.randrange(len(tables.API_VALUES["city"]["en"])),
            "p": rng.randrange(len(tables.NAMES["en"])), "n": rng.randint(5, 90)}


def _summary_row(example: dict, lang: str) -> dict:
    text, summary = tables.STORIES[example["story"]][lang]
    ctx = story_context(example, lang)
    return {"text": render(text, lang, ctx), "summary": render(summary, lang, ctx), "facts": facts(summary, ctx)}


def facts(summary_template: str, ctx: dict) -> list[str]:
    """The content values a summary carries (its place, person and numbers, as the article states them): what a
    summary must get right, which ROUGE-L barely sees in a templated summary whose other words are all given."""
    return [str(ctx[key]) for key, forms in placeholders(summary_template) if not forms and key in ctx]


TASK = Task(
    name="summarization",
    required_fields=("id", "text", "summary"),
    prompt=_prompt,
    target=lambda record: " " + record["summary"],
    max_new_tokens=256,
    stop=_one_line,
    scorer="rouge_l",
    prose=True,
    # A story's facts (its place and number) make the problem; the name in it is surface.
    sample=SampleGenerator(templates=_templates, draw=_draw_story, row=_summary_row,
                           problem=lambda example: (example["story"], example["city"], example["n"])),
    sources={
        "xlsum": SourceFormat(("train", "test"), lambda source, split, languages, seed, counts:
                              loaders.read_xlsum(source["path"], languages, split)),
    },
)
