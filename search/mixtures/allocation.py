"""Static language allocations of a total budget (docs/studies.md §2), the baselines next to Climb.

Each returns exact per-language example counts that sum to the budget. A language can give at most
``max_epochs × available`` examples (its cap); where an allocation asks for more, the language is held at
its cap and the rest is shared again among the others in the same proportions (water-filling), so every
allocation is feasible and exact:
- uniform: the same share for every language (UniMax is uniform with caps);
- natural: proportional to the data available;
- temperature: proportional to available^(1/T) (T≈3.3 as in mT5 / XLM-R; T=1 is natural, T→∞ uniform);
- UniMax (Chung et al., 2023): uniform, each language capped at ``max_epochs`` passes over its data, the
  leftovers going to the larger languages.
"""

from __future__ import annotations

import math

from training.errors import ConfigError
from training.mixture import ratio_counts


def _check(available: dict[str, int], total: int, max_epochs: float) -> dict[str, int]:
    if not available:
        raise ConfigError("allocation: no languages given; list at least one language with its available examples")
    for lang, n in available.items():
        if not isinstance(n, int) or n < 1:
            raise ConfigError(f"allocation: language {lang!r} has {n!r} examples available; every language needs at least 1")
    if max_epochs <= 0:
        raise ConfigError(f"allocation: max_epochs={max_epochs} must be positive")
    if total < len(available):
        raise ConfigError(f"allocation: a budget of {total} examples is below one example per language "
                          f"({len(available)} languages); raise the budget or drop languages")
    caps = {lang: math.floor(max_epochs * n) for lang, n in available.items()}
    if total > sum(caps.values()):
        raise ConfigError(f"allocation: a budget of {total} examples exceeds the {sum(caps.values())} available "
                          f"at max_epochs={max_epochs}; lower the budget or raise max_epochs")
    return caps


def capped_counts(weights: dict[str, float], total: int, caps: dict[str, int]) -> dict[str, int]:
    """Counts proportional to ``weights``, none above its cap, summing to ``total`` exactly.

    Water-filling: languages whose proportional share exceeds their cap are fixed at the cap and the
    remainder is shared among the rest in proportion to their weights, until no share exceeds a cap.
    """
    fixed: dict[str, float] = {}
    free = dict(weights)
    while True:
        budget = total - sum(fixed.values())
        weight = sum(free.values())
        shares = {lang: budget * w / weight for lang, w in free.items()}
        over = {lang for lang, share in shares.items() if share > caps[lang]}
        if not over:
            break
        fixed.update({lang: caps[lang] for lang in over})
        free = {lang: w for lang, w in free.items() if lang not in over}
    exact = {**fixed, **shares}
    # Largest-remainder rounding never lifts a language at its (integer) cap: its remainder is zero.
    counts = ratio_counts({lang: value / total for lang, value in exact.items()}, total)
    return {lang: counts.get(lang, 0) for lang in weights}


def uniform(available: dict[str, int], total: int) -> dict[str, int]:
    caps = _check(available, total, max_epochs=1.0)
    if total / len(available) > min(caps.values()):
        small = min(caps, key=caps.get)
        raise ConfigError(f"allocation: a uniform share of {total / len(available):.0f} exceeds the {caps[small]} "
                          f"{small} examples available; use UniMax (caps, leftovers to larger languages) or lower the budget")
    return capped_counts({lang: 1.0 for lang in available}, total, caps)


def natural(available: dict[str, int], total: int) -> dict[str, int]:
    caps = _check(available, total, max_epochs=1.0)
    return capped_counts({lang: float(n) for lang, n in available.items()}, total, caps)


def temperature(available: dict[str, int], total: int, temperature: float = 3.3, max_epochs: float = 1.0) -> dict[str, int]:
    if temperature <= 0:
        raise ConfigError(f"allocation: temperature={temperature} must be positive (1 = natural, large = uniform)")
    caps = _check(available, total, max_epochs)
    return capped_counts({lang: n ** (1.0 / temperature) for lang, n in available.items()}, total, caps)


def unimax(available: dict[str, int], total: int, max_epochs: float = 1.0) -> dict[str, int]:
    caps = _check(available, total, max_epochs)
    return capped_counts({lang: 1.0 for lang in available}, total, caps)

