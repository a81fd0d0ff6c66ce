"""Mixture construction: per-language example counts → one seeded, exact training dataset.

Two designs (docs/studies.md §1a, §1c):
- augmentation: every language in the mixture gets the same number of parallel examples;
- ratio: a fixed total split across languages by ratios (largest-remainder rounding, exact sum).
Both draw from one seeded permutation of the parallel ids, so a language with n examples gets the first
n ids of that permutation: mixtures that share a language share its examples, and the same spec always
gives the same dataset. That is parallel content: the languages of a mixture are translations of the same
problems. With disjoint content (``mixture.content: disjoint``) the permutation is cut into one block per
language of the study's pool, and a language takes the first ids of its own block: no two languages share a
problem, and mixtures that share a language still share its examples.
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


def disjoint_share(available: int, pool: list[str]) -> int:
    """Problems of its own each language of ``pool`` has when ``available`` parallel ids are split among them."""
    return available // len(pool)


def build_mixture(sources: dict[str, datasets.Dataset], counts: dict[str, int], seed: int,
                  pool: list[str] | None = None) -> datasets.Dataset:
    """Select ``counts[lang]`` rows of each language (first ids of one seeded permutation, or of the language's
    own block of it when ``pool`` makes the content disjoint) and shuffle."""
    if not counts:
        raise DataError("the mixture is empty: give at least one language a positive count")
    n_available = len(next(iter(sources.values())))
    order = list(range(n_available))
    random.Random(seed).shuffle(order)
    share = disjoint_share(n_available, pool) if pool else n_available
    parts = []
    for lang, count in counts.items():
        if pool and lang not in pool:
            raise DataError(f"{lang} is not in the disjoint content's pool ({', '.join(pool)})")
        if count > share:
            own = f" of its own with mixture.content: disjoint ({len(pool)} languages share them)" if pool else ""
            raise DataError(f"mixture asks for {count} {lang} examples but the source has {share}{own}; lower the count")
        start = pool.index(lang) * share if pool else 0
        part = sources[lang].select(order[start:start + count])
        parts.append(part.add_column("lang", [lang] * count))
    import datasets

    return datasets.concatenate_datasets(parts).shuffle(seed=seed)
