"""Per-language evaluation of a model on a task: prompts → greedy completions → scorer → accuracy."""

from __future__ import annotations

from collections.abc import Iterable

import datasets

from evaluation.fidelity import is_faithful
from evaluation.generate import generate
from evaluation.scorers import scorer_for
from training.tasks import get_task


def evaluate_languages(
    model, tokenizer, task: str, by_lang: dict[str, datasets.Dataset], batch_size: int = 64,
    wrong_language_scores_zero: bool = False, max_new_tokens: int | None = None,
) -> dict[str, dict]:
    """Return ``{lang: {"accuracy": mean score, "metrics": {name: mean}, "fidelity": share or None, "n": int,
    "max_new_tokens": int, "predictions": [{id, prompt, completion, tokens, finish, score, faithful}]}}``.

    Completions get the task's budget (``max_new_tokens``, default the task's own) and stop at EOS or at the task's
    stop strings; each prediction records how many tokens it generated and why it ended. ``fidelity`` is the share
    of responses written in the prompt's language (of those with a language, NaN when none has one; None for tasks
    whose responses are code). With ``wrong_language_scores_zero`` a response in another language scores 0 in the
    tasks whose paper scores it so (``Task.language_penalty``: instruction following).
    """
    task_format = get_task(task)
    scorer = scorer_for(task_format)
    budget = max_new_tokens or task_format.max_new_tokens
    results = {}
    for lang, dataset in by_lang.items():
        records = list(dataset)
        prompts = [task_format.prompt(record, lang) for record in records]
        completions = generate(model, tokenizer, prompts, budget, batch_size, task_format.stop(lang))
        scores = [scorer.score(c.text, record, lang) for c, record in zip(completions, records)]
        faithful = [is_faithful(c.text, lang) if task_format.prose else None for c in completions]
        if wrong_language_scores_zero and task_format.language_penalty:
            scores = [{**score, "acc": 0.0} if ok is False else score for score, ok in zip(scores, faithful)]
        judged = [ok for ok in faithful if ok is not None]
        n = max(len(scores), 1)
        mean = sum(score["acc"] for score in scores) / n
        results[lang] = {
            "accuracy": mean,
            # sample standard deviation of the scores: a continuous score's interval (NaN below 2 rows)
            "sd": (sum((score["acc"] - mean) ** 2 for score in scores) / (n - 1)) ** 0.5 if n > 1 else float("nan"),
            "metrics": {name: sum(score[name] for score in scores) / n for name in (scores[0] if scores else {}) if name != "acc"},
            # (NaN when no response had a language to judge: letterless output, JSON; None for code tasks)
            "fidelity": (sum(judged) / len(judged) if judged else float("nan")) if task_format.prose else None,
            "fidelity_judged": len(judged),
            "n": len(scores),
            "max_new_tokens": budget,
            "predictions": [
                {"id": r["id"], "prompt": p, "completion": c.text, "tokens": c.tokens, "finish": c.finish,
                 "score": score["acc"], "faithful": ok}
                for r, p, c, score, ok in zip(records, prompts, completions, scores, faithful)
            ],
        }
    return results


def language_metrics(results: dict[str, dict]) -> dict[str, float]:
    """A task's further metrics, the scores' standard deviation and the fidelity per language, as
    ``eval/<metric>/<lang>``, ``eval/sd/<lang>`` and ``eval/fidelity/<lang>``."""
    metrics = {f"eval/{name}/{lang}": value for lang, result in results.items() for name, value in result["metrics"].items()}
    metrics.update({f"eval/sd/{lang}": result["sd"] for lang, result in results.items() if "sd" in result})
    for lang, result in results.items():
        if result["fidelity"] is not None:  # a prose task: logged for every language, with how many were judged
            metrics.update({f"eval/fidelity/{lang}": result["fidelity"], f"eval/fidelity_judged/{lang}": result["fidelity_judged"]})
    return metrics


def validation_accuracy(model, tokenizer, task: str, by_lang: dict[str, datasets.Dataset],
                        budgets: dict[str, int] | None = None) -> dict[str, float]:
    """The validator the SFT loop calls after each epoch (injected, so training imports no evaluation code), with
    the study's generation budget per task (``budgets``; the task's own where it names none)."""
    results = evaluate_languages(model, tokenizer, task, by_lang, max_new_tokens=(budgets or {}).get(task))
    return {lang: result["accuracy"] for lang, result in results.items()}


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
