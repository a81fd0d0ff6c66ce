"""Summary metrics for every script: ROUGE-L F1 on script-aware words (rouge_score with evaluation.text's
tokenizer, not its English-only default, which drops every non-Latin character) and chrF (sacrebleu)."""

from __future__ import annotations

from functools import lru_cache

from evaluation.text import WordTokenizer


@lru_cache(maxsize=1)
def _rouge():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=WordTokenizer())


@lru_cache(maxsize=1)
def _chrf():
    from sacrebleu.metrics import CHRF

    return CHRF()  # character 6-grams, β = 2: chrF as defined by Popović (2015)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 in [0, 1]: longest common subsequence of words, harmonic mean of precision and recall."""
    return _rouge().score(reference, prediction)["rougeL"].fmeasure


def chrf(prediction: str, reference: str) -> float:
    """Sentence-level chrF in [0, 1] (sacrebleu reports 0–100)."""
    return _chrf().sentence_score(prediction, [reference]).score / 100
