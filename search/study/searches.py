"""The study sections that search instead of enumerating: the ratio search (`search`), hyperparameter tuning
(`tuning`) and the single- vs multi-task variants (`multitask`).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from search.study.sections import MAX_SEED, CountPerTask, Frozen, check_languages
from training.errors import ConfigError
from training.languages import TRAINABLE_LANGUAGES


class RatioSearchConfig(Frozen):
    """`polymix climb`: search the ratios of ``languages`` for every model × task of the study.

    Every run trains on ``total`` examples split by the proposed ratios and validates every searched
    language; the objective is Σ w_i · validation loss_i (lower is better).
    """

    # grid: the brute-force reference, every mixture of a lattice over the simplex (step 1/divisions), best measured
    strategy: Literal["climb", "regmix", "optuna", "grid"] = "climb"
    languages: list[str]
    total: CountPerTask  # examples per run: the budget D the ratios divide
    weights: dict[str, float] | None = None  # importance weights; None = uniform
    runs: int = Field(12, ge=2, le=10_000)  # SFT runs per model × task at most, the run that confirms the recommendation included
    initial_runs: int | None = Field(None, ge=2)  # climb: new proxy mixtures before the first fit (None: as
    # many as the law's n² + 2n parameters need plus one run, n + 3 from scratch, fewer when earlier runs are reused)
    divisions: int | None = Field(None, ge=1, le=1000)  # grid: ratios in steps of 1/divisions (5: 0, 0.2, ..., 1)
    min_gain: float = Field(0.0, ge=0)  # climb: stop once the fitted law predicts less gain than this
    asha: bool = False  # optuna: ASHA stops weak trials early on val/objective, one rung per epoch
    hparams: bool = False  # optuna: search the `tuning` section's space together with the ratios (joint search)
    seed: int = Field(0, ge=0, le=MAX_SEED)

    @field_validator("languages")
    @classmethod
    def _languages(cls, languages):
        if len(languages) < 2:
            raise ValueError("list at least two training languages to search ratios over")
        check_languages(languages, TRAINABLE_LANGUAGES, "training")
        return languages

    @field_validator("weights")
    @classmethod
    def _weights(cls, weights, info):
        from search.mixtures.climb import check_weights

        if weights is not None and "languages" in info.data:
            try:
                check_weights(weights, tuple(info.data["languages"]), field="")
            except ConfigError as error:
                raise ValueError(str(error)) from None
        return weights

    @model_validator(mode="after")
    def _budgets(self):
        n = len(self.languages)
        for task_total in (self.total.values() if isinstance(self.total, dict) else [self.total]):
            if task_total < n:
                raise ValueError(f"total={task_total} is below one example per language ({n} languages); raise search.total")
        # Without initial_runs the design's size depends on the earlier runs reused: checked when planned
        # (search.runs.ratio_search.plan_searches), still before any trial starts.
        if self.strategy == "climb" and self.initial_runs and self.runs <= self.initial_runs:
            raise ValueError(f"runs={self.runs} leaves no run after the {self.initial_runs} initial mixtures; raise "
                             f"search.runs above {self.initial_runs} or lower search.initial_runs")
        if (self.strategy == "grid") != (self.divisions is not None):
            raise ValueError("divisions: the lattice of strategy 'grid' (e.g. divisions: 5 for ratios in steps of 0.2), "
                             "and of no other strategy")
        if self.asha and self.strategy != "optuna":
            raise ValueError("asha: early stopping applies to strategy 'optuna' only (Climb and RegMix fit every run)")
        if self.hparams and self.strategy != "optuna":
            raise ValueError("hparams: a joint ratio and hyperparameter search needs strategy 'optuna' (Climb and RegMix "
                             "model ratios only)")
        return self

    def budget(self) -> int:
        """Runs at most: ``runs``, or for the grid its lattice's points, C(divisions + n − 1, n − 1)."""
        if self.strategy == "grid":
            return math.comb(self.divisions + len(self.languages) - 1, len(self.languages) - 1)
        return self.runs

    def weight_of(self) -> dict[str, float]:
        return self.weights or {lang: 1.0 / len(self.languages) for lang in self.languages}


# Training settings a tuning sweep may search, with the type each value must have.
TUNABLE = {"lr": float, "epochs": int, "warmup_ratio": float, "weight_decay": float, "global_batch": int}


class Distribution(Frozen):
    """One hyperparameter's search space: exactly one of ``loguniform: [low, high]``, ``uniform: [low, high]``,
    ``int: [low, high]`` (inclusive) or ``choice: [values]``."""

    loguniform: tuple[float, float] | None = None
    uniform: tuple[float, float] | None = None
    int_: tuple[int, int] | None = Field(None, alias="int")
    choice: list[float | int] | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_kind(self):
        given = [kind for kind in ("loguniform", "uniform", "int_", "choice") if getattr(self, kind) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of loguniform: [low, high], uniform: [low, high], int: [low, high] or "
                             "choice: [values]")
        if self.choice is not None and not self.choice:
            raise ValueError("choice has no values; list at least one")
        bounds = self.loguniform or self.uniform or self.int_
        if bounds is not None:
            low, high = bounds
            if low >= high:
                raise ValueError(f"low {low} ≥ high {high}; give [low, high] with low < high")
            if self.loguniform is not None and low <= 0:
                raise ValueError(f"loguniform needs low > 0 (got {low}); use uniform for a range that includes 0")
        return self

    def values_of_type(self, kind: type) -> bool:
        """Whether every value this space can give suits a hyperparameter of type ``kind``."""
        if kind is int:
            return self.int_ is not None or (self.choice is not None and all(float(v).is_integer() for v in self.choice))
        return True


class TuningConfig(Frozen):
    """`polymix tune`: search training hyperparameters per model on a reference mixture (Ray Tune's searchers)."""

    mixture: str | None = None  # `polymix tune`'s reference mixture (a name of the study's mixtures); a joint
    # ratio search (search.hparams) samples its own mixtures
    models: list[str] | None = None  # the study's models to tune (default: all)
    space: dict[str, Distribution]
    searcher: Literal["optuna", "random", "grid"] = "optuna"
    samples: int | None = Field(None, ge=1, le=100_000)  # trials per model × task (default 8); grid: every combination once
    asha: bool = True  # stop weak trials early on the per-epoch validation metric (rungs = epochs)
    metric: Literal["val/avg_loss", "val/avg_acc"] = "val/avg_loss"  # of the trained languages; a finished
    # trial is scored by the epoch it kept (selected/<metric>)
    seed: int = Field(0, ge=0, le=MAX_SEED)

    @field_validator("space")
    @classmethod
    def _space(cls, space):
        if not space:
            raise ValueError(f"is empty; search at least one of {', '.join(TUNABLE)}")
        for name, distribution in space.items():
            if name not in TUNABLE:
                raise ValueError(f"{name}: unknown hyperparameter; tunable: {', '.join(TUNABLE)}")
            if not distribution.values_of_type(TUNABLE[name]):
                raise ValueError(f"{name}: takes whole numbers; use int: [low, high] or a choice of integers")
        return space

    @model_validator(mode="after")
    def _grid(self):
        if self.searcher == "grid" and any(d.choice is None for d in self.space.values()):
            raise ValueError("searcher 'grid' enumerates choices only; give every hyperparameter a choice: [values]")
        if self.searcher == "grid" and self.samples not in (None, 1):
            raise ValueError("samples: the grid runs every combination once (the same combination again would be the "
                             "same run); remove samples or use searcher random")
        return self

    @property
    def trials(self) -> int:
        """Trials per model × task: Tune's num_samples (for the grid, passes over the whole grid)."""
        return 1 if self.searcher == "grid" else self.samples or 8

    @property
    def mode(self) -> str:
        return "min" if self.metric.endswith("loss") else "max"


MULTITASK = "multitask"  # the task name of a run that trains on every task of the study at once


class MultitaskConfig(Frozen):
    """Single-task and multi-task variants of the same study (docs/studies.md §1b): ``single`` makes one run per task and
    mixture, ``multi`` one run per mixture on every task at once, each task taking ``proportions[task]`` of its
    mixture counts (default 1: all of them)."""

    variants: list[Literal["single", "multi"]] = ["single", "multi"]
    proportions: dict[str, float] = {}

    @field_validator("variants")
    @classmethod
    def _variants(cls, variants):
        if not variants or len(set(variants)) != len(variants):
            raise ValueError("list single, multi or both, once each")
        return variants

    @field_validator("proportions")
    @classmethod
    def _proportions(cls, proportions):
        for task, share in proportions.items():
            if not 0 < share <= 1:
                raise ValueError(f"{task}: {share} is not in (0, 1]; give the share of the task's mixture counts to train on")
        return proportions

    def share(self, task: str) -> float:
        return self.proportions.get(task, 1.0)
