"""Mixture construction: per-language example counts → one seeded, exact training dataset.

Two designs (docs/studies.md §1a, §1c):
- augmentation: every language in the mixture gets the same number of parallel examples;
- ratio: a fixed total split across languages by ratios (largest-remainder rounding, exact sum).
Both draw from one seeded permutation of the parallel ids, so a language with n examples gets the first
n ids of that permutation: mixtures that share a language share its examples, and the same spec always
gives the same dataset.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

from training.errors import DataError

if TYPE_CHECKING:  # datasets is imported where used: study validation needs only the counting functions
    import datasets


def augmentation_counts(languages: list[str], per_language: int) -> dict[str, int]:
    return {lang: per_language for lang in languages}


def ratio_counts(ratios: dict[str, float], total: int) -> dict[str, int]:
    """Largest-remainder rounding: counts are within one of total·ratio and sum to total exactly."""
    exact = {lang: total * ratio for lang, ratio in ratios.items()}
    counts = {lang: math.floor(value) for lang, value in exact.items()}
    leftover = total - sum(counts.values())
    by_remainder = sorted(ratios, key=lambda lang: (counts[lang] - exact[lang], lang))
    for lang in by_remainder[:leftover]:
        counts[lang] += 1
    return {lang: count for lang, count in counts.items() if count > 0}


def build_mixture(sources: dict[str, datasets.Dataset], counts: dict[str, int], seed: int) -> datasets.Dataset:
    """Select ``counts[lang]`` rows of each language (first ids of one seeded permutation) and shuffle."""
    if not counts:
        raise DataError("the mixture is empty: give at least one language a positive count")
    n_available = len(next(iter(sources.values())))
    order = list(range(n_available))
    random.Random(seed).shuffle(order)
    parts = []
    for lang, count in counts.items():
        if count > n_available:
            raise DataError(f"mixture asks for {count} {lang} examples but the source has {n_available}; lower the count")
        part = sources[lang].select(order[:count])
        parts.append(part.add_column("lang", [lang] * count))
    import datasets

    return datasets.concatenate_datasets(parts).shuffle(seed=seed)
