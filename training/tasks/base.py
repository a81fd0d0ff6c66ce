"""What a task is, at the training layer: the :class:`Task` declaration and the :func:`registry` that holds them.

A task declares everything the service needs to know about it in one place: the rows it reads, how a row becomes a
prompt and a training target, its generation budget and stop strings, whether its responses are prose (language
fidelity) and penalised in a wrong language, which scorer evaluation scores it with (by name: the scorers live in
``evaluation.scorers``, above this layer), the generator of its sample data, and the published dataset formats it
can be converted from. ``evaluation.scorers.check_task_registry`` checks that every declaration is complete.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# A reader's arguments: the study's source spec ({"format", "path", "file", "sample", ...}), the split it is asked
# for ("train" or "test"), the languages, the study's seed and the ``training.loaders.SplitCounts`` to fill.
Reader = Callable[[dict, str, list, int, Any], dict]


@dataclass(frozen=True)
class SourceFormat:
    """A published dataset layout a task can be converted from (``data.sources`` in a study)."""

    splits: tuple[str, ...]  # which of "train" and "test" the publisher's files provide
    # (source spec, split, languages, seed, counts) → {lang: [row, ...]}; the readers are in training.loaders.
    read: Reader
    # A streaming reader draws the ``sample`` rows and counts the rows it read itself, because the whole file
    # never fits in memory (mCoT-MATH); the others return every row and the conversion draws and counts.
    samples_itself: bool = False


@dataclass(frozen=True)
class SampleGenerator:
    """How the shipped sample data of a task is drawn (``training.sample_data`` writes it).

    An example is drawn once, language-independently, from a template; each language renders it into a row. Row k of
    every language is therefore the same example, which is what makes the sample data parallel.
    """

    templates: Callable[[str], list[int]]  # split → the template indices it draws from (test may hold its own)
    draw: Callable[[random.Random, int], dict]  # (rng, template) → a language-independent example
    row: Callable[[dict, str], dict]  # (example, lang) → the row's fields, all but "id"
    # example → what makes it the same problem whatever its surface (who is named, how a request is phrased): a
    # problem goes to one split only, so a test item never has a training twin that differs only in its names.
    # None: the English prompt is the problem.
    problem: Callable[[dict], object] | None = None


def _eos_only(lang: str) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class Task:
    name: str
    required_fields: tuple[str, ...]  # the columns every row of DATA_DIR/{task}/{lang}/{split}.jsonl has
    prompt: Callable[[dict, str], str]  # (row, lang) → the prompt
    # row → what training teaches after the prompt. A space between the two belongs to the target (lm-evaluation-
    # harness's target_delimiter): prompt and target are tokenised apart, and a prompt ending in a space makes that
    # space a token of its own, so the target's first word becomes a different token ("Get" rather than " Get") from
    # the one it is in the prompt's text, and copying a name from the prompt starts with a token never seen there.
    target: Callable[[dict], str]
    # The generation budget (new tokens; a study may set its own, eval.max_new_tokens): the task's, never derived
    # from the reference answers, which a test set may not even have (MGSM rows hold the answer number only).
    max_new_tokens: int
    # The name of the scorer in evaluation.scorers.SCORERS (evaluation is above training, so a task names its
    # metric, as lm-evaluation-harness tasks do); a study naming a task whose scorer is not registered is refused.
    scorer: str
    # Whether responses are text in the prompt's language, whose language fidelity is measured (an API call is
    # code: it is not).
    prose: bool
    sample: SampleGenerator
    sources: Mapping[str, SourceFormat]  # format name (a study's data.sources.<task>.<split>.format) → reader
    # Strings that end a completion besides EOS, per language: the start of a new question or turn in the format.
    stop: Callable[[str], tuple[str, ...]] = _eos_only
    # Whether eval.wrong_language_scores_zero applies: the tasks whose paper scores an answer in another language 0
    # (the Post-trainer's Guide's instruction following), not math, whose answer is a number in any language.
    language_penalty: bool = False
    # What is wrong with a converted train and test split taken together (first rows of one language each), or
    # None: API calling must be tested on APIs it was not trained on.
    check_splits: Callable[[list[dict], list[dict]], str | None] | None = None


def registry(*tasks: Task) -> dict[str, Task]:
    """name → task, refusing two tasks of one name and a dataset format claimed by two tasks."""
    by_name: dict[str, Task] = {}
    owner: dict[str, str] = {}
    for task in tasks:
        if task.name in by_name:
            raise ValueError(f"two tasks are named {task.name!r}; every task needs its own name")
        by_name[task.name] = task
        for fmt in task.sources:
            if fmt in owner:
                raise ValueError(f"source format {fmt!r} is declared by tasks {owner[fmt]!r} and {task.name!r}; "
                                 "a format belongs to one task")
            owner[fmt] = task.name
    return by_name


def source_formats(tasks: Mapping[str, Task]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """format → (the task it provides, the splits it can provide), over every registered task."""
    return {fmt: (task.name, source.splits) for task in tasks.values() for fmt, source in task.sources.items()}
