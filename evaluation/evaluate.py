"""Per-language evaluation of a model on a task: prompts → greedy completions → scorer → accuracy."""

from __future__ import annotations

from collections.abc import Iterable

import datasets

from evaluation.generate import generate
from evaluation.scorers import SCORERS
from training.tasks import get_task


def evaluate_languages(
    model, tokenizer, task: str, by_lang: dict[str, datasets.Dataset], batch_size: int = 64
) -> dict[str, dict]:
    """Return ``{lang: {"accuracy": float, "n": int, "predictions": [{id, prompt, completion, correct}]}}``."""
    task_format, scorer = get_task(task), SCORERS[task]
    results = {}
    for lang, dataset in by_lang.items():
        records = list(dataset)
        prompts = [task_format.prompt(record, lang) for record in records]
        # Room for the longest gold answer in this tokenizer, so an answer that never stops costs little.
        longest = max((len(tokenizer(task_format.target(r), add_special_tokens=False).input_ids) for r in records), default=0)
        completions = generate(model, tokenizer, prompts, min(task_format.max_new_tokens, longest + 16), batch_size)
        correct = [scorer(completion, record) for completion, record in zip(completions, records)]
        results[lang] = {
            "accuracy": sum(correct) / max(len(correct), 1),
            "n": len(correct),
            "predictions": [
                {"id": r["id"], "prompt": p, "completion": c, "correct": ok}
                for r, p, c, ok in zip(records, prompts, completions, correct)
            ],
        }
    return results


def validation_accuracy(model, tokenizer, task: str, by_lang: dict[str, datasets.Dataset]) -> dict[str, float]:
    """The validator the SFT loop calls after each epoch (injected, so training imports no evaluation code)."""
    return {lang: result["accuracy"] for lang, result in evaluate_languages(model, tokenizer, task, by_lang).items()}


def summarize(accuracy: dict[str, float], trained: Iterable[str], examples: dict[str, int] | None = None) -> dict[str, float]:
    """Per-language accuracies plus averages over seen (trained) and unseen languages; with ``examples``, the test
    examples behind each accuracy (``eval/n/<lang>``), which the report's Wilson intervals need."""
    trained = set(trained)
    seen = [acc for lang, acc in accuracy.items() if lang in trained]
    unseen = [acc for lang, acc in accuracy.items() if lang not in trained]
    summary = {f"eval/acc/{lang}": acc for lang, acc in accuracy.items()}
    summary.update({f"eval/n/{lang}": n for lang, n in (examples or {}).items()})
    summary["eval/avg"] = sum(accuracy.values()) / len(accuracy)
    if seen:
        summary["eval/avg_seen"] = sum(seen) / len(seen)
    if unseen:
        summary["eval/avg_unseen"] = sum(unseen) / len(unseen)
    return summary
