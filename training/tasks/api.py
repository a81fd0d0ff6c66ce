"""API calling: from an API's description and a user's request, the one call that serves it (API-Bank level 1).

Mirrors mAPICall-Bank (API-Bank's level-1 dialogues translated; API names and argument keys stay English), train
and test, whose test APIs are not among the train APIs. A row is ``{"id", "api_doc", "request", "call"}`` (the
sample data adds ``api_name`` and ``arguments``); the model learns the call ``Name(key='value', ...)`` and is scored
by exact match of name, arguments and values. Responses are code, so their language is not judged.
"""

from __future__ import annotations

import random
import re

from training import loaders
from training import sample_tables as tables
from training.sample_render import draw_value, person, quote_value, render
from training.tasks.base import SampleGenerator, SourceFormat, Task


def _prompt(record: dict, lang: str) -> str:
    return f"API: {record['api_doc']}\n{record['request']}\nAPI-Request:"


def _one_line(lang: str) -> tuple[str, ...]:
    return ("\n",)  # an API call is one line


def api_names(rows: list[dict]) -> set[str]:
    return {row["call"].split("(", 1)[0] for row in rows}


def _disjoint_apis(train: list[dict], test: list[dict]) -> str | None:
    """Test APIs must be unseen in training: the study measures calling an API from its description alone."""
    shared = api_names(train) & api_names(test)
    if shared:
        return (f"{len(shared)} API(s) appear in both train and test (e.g. {sorted(shared)[:3]}); API-calling train "
                "and test must use disjoint APIs")
    return None


# ------------------------------------------------------------------------------------------- sample data
def _templates(split: str) -> list[int]:
    """The APIs of the split: each split has its own (train, validation and test APIs are disjoint, so that choosing a
    checkpoint by validation rewards calling unseen APIs, which the test asks for, not memorising the train APIs)."""
    return [i for i, api in enumerate(tables.API_CATALOGUE) if api["split"] == split]


def _draw_api(rng: random.Random, api: int) -> dict:
    values: dict[str, int | str] = {}
    args = tables.API_CATALOGUE[api]["args"]
    for key, kind in args.items():
        taken = [values[k] for k, other in args.items() if other == kind and k in values]
        values[key] = draw_value(rng, kind)
        while values[key] in taken:  # e.g. origin != destination, from_currency != to_currency
            values[key] = draw_value(rng, kind)
    example = {"api": api, "variant": rng.randrange(2), "values": values}
    if tables.API_CATALOGUE[api]["split"] == "train":
        example.update(_fresh_signature(rng, list(args)))
    return example


def _fresh_signature(rng: random.Random, keys: list[str]) -> dict:
    """A new name for a train API (a verb and one or two nouns), and in half the examples new argument keys.

    A real API-calling train set holds far more distinct APIs than the catalogue's 18 train APIs, which let SFT
    memorise their names and keys: a model that memorised them writes a test API's unfamiliar name and keys from the
    memorised ones instead of copying them from the description (docs/tiny_bases.md). Renamed, every train example asks for what the test asks: to copy the
    signature its description gives. Half the words are made up: a test API's name (``SetThermostat``: ``Se``, ``t``,
    ``Th``, ``erm``...) is cut into pieces no list word begins with, and a model fine-tuned on list words only learnt
    to start a call with one of their first tokens. No word is one of a validation or test API's name (a test checks)."""
    words = [_name_word(rng, tables.API_NAME_VERBS)] + [_name_word(rng, tables.API_NAME_NOUNS)
                                                        for _ in range(rng.randint(1, 2))]
    signature: dict = {"name": "".join(words)}
    if rng.random() < 0.5:
        nouns = [_name_word(rng, tables.API_NAME_NOUNS).lower() for _ in range(2 * len(keys))]
        signature["keys"] = {key: nouns[2 * i] + (f"_{nouns[2 * i + 1]}" if rng.random() < 0.5 else "")
                             for i, key in enumerate(keys)}
    return signature


_CONSONANTS, _VOWELS = "bcdfghklmnprstvz", "aeiou"
_EVALUATION_NAME_WORDS = {word for api in tables.API_CATALOGUE if api["split"] != "train"
                          for word in re.findall(r"[A-Z][a-z]*", api["name"])}


def _name_word(rng: random.Random, words: list[str]) -> str:
    """A word of the list, or (half the time) a made-up one of 1-3 syllables, capitalised."""
    while True:
        word = rng.choice(words) if rng.random() < 0.5 else "".join(
            rng.choice(_CONSONANTS) + rng.choice(_VOWELS) + rng.choice(("", "", rng.choice(_CONSONANTS)))
            for _ in range(rng.randint(1, 3))).capitalize()
        if word not in _EVALUATION_NAME_WORDS:
            return word


def _api_row(example: dict, lang: str) -> dict:
    api = tables.API_CATALOGUE[example["api"]]
    name, keys = example.get("name", api["name"]), example.get("keys", {key: key for key in api["args"]})
    doc = f"{name}({', '.join(keys.values())})" + api["doc"].split(")", 1)[1]  # the catalogue's doc, renamed
    ctx: dict = {}
    arguments: dict[str, str] = {}
    for key, kind in api["args"].items():
        value = example["values"][key]
        if kind == "person":
            ctx.update(person(key, lang, value))
            arguments[key] = ctx[key]
        else:
            arguments[key] = tables.API_VALUES[kind][lang][value] if kind in tables.API_VALUES else value
    templates = api["requests"][lang]
    request = render(templates[example["variant"] % len(templates)], lang, {**ctx, **arguments})
    arguments = {keys[key]: value for key, value in arguments.items()}
    call = f"{name}({', '.join(f'{key}={quote_value(value)}' for key, value in arguments.items())})"
    return {"api_name": name, "api_doc": doc, "request": request, "call": call, "arguments": arguments}


TASK = Task(
    name="api",
    required_fields=("id", "api_doc", "request", "call"),
    prompt=_prompt,
    target=lambda record: " " + record["call"],
    max_new_tokens=128,
    stop=_one_line,
    scorer="api_call",
    prose=False,
    # One API with the same values is one problem, however the request is phrased.
    sample=SampleGenerator(templates=_templates, draw=_draw_api, row=_api_row,
                           problem=lambda example: (example["api"], sorted(example["values"].items()))),
    sources={
        "mapicall_bank": SourceFormat(("train", "test"), lambda source, split, languages, seed, counts:
                                      loaders.read_mapicall_bank(source["path"], languages, split)),
    },
    check_splits=_disjoint_apis,
)
