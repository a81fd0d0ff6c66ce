"""The task registry: every task the service can train and evaluate, one module each.

A task is declared once, as ``TASK = Task(...)`` at the end of its module (:class:`training.tasks.base.Task` lists
the parts: rows, prompt, target, budget, stop strings, prose / language penalty, scorer name, sample-data
generator, dataset formats). Adding a fifth task needs:

1. ``training/tasks/<name>.py``: its ``TASK = Task(...)`` with a docstring saying what the task is and which real
   dataset it mirrors; its sample-data templates in a JSON file of ``training/sample_templates/`` that it reads
   with ``training.sample_tables.read`` (package data, part of the sample data's cache key), and a reader for each
   real dataset format it accepts in ``training.loaders``;
2. one line in ``registry(...)`` below;
3. ``evaluation/scorers.py``: the scorer its ``scorer`` names, in ``SCORERS``, unless an existing one fits.

``evaluation.scorers.check_task_registry`` (run by tests/evaluation/test_task_registry.py) refuses a registry in
which a task misses a part, names an unregistered scorer or generates rows without its required fields.
"""

from __future__ import annotations

from training.answers import answer_readings, extract_number, format_number, numeric_final_answer
from training.tasks import api, instruction, math, summarization
from training.tasks.base import SampleGenerator, SourceFormat, Task, registry, source_formats
from training.tasks.math import QUESTION, STEP_BY_STEP
from training.tasks.summarization import SUMMARIZE

TASKS: dict[str, Task] = registry(math.TASK, api.TASK, summarization.TASK, instruction.TASK)

# format → (task, the splits it can provide): what a study's data.sources may name, derived from the tasks.
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = source_formats(TASKS)


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(TASKS)}") from None


__all__ = ["FORMATS", "QUESTION", "STEP_BY_STEP", "SUMMARIZE", "TASKS", "SampleGenerator", "SourceFormat", "Task",
           "answer_readings", "extract_number", "format_number", "get_task", "numeric_final_answer", "registry"]
