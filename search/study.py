"""The study file: YAML → frozen pydantic models, validated (and pre-flighted) before anything runs.

Every error names the YAML field it comes from (``mixtures[3].ratios: sums to 0.9, must sum to 1``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from training.errors import ConfigError, PolymixError
from training.loaders import FORMATS
from training.mixture import augmentation_counts, ratio_counts
from training.languages import ALL_LANGUAGES, LANGUAGES, TRAINABLE_LANGUAGES
from training.settings import TrainSettings
from training.tasks import TASKS


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_languages(languages, allowed: tuple[str, ...], role: str) -> None:
    for lang in languages:
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}; use one of {', '.join(ALL_LANGUAGES)}")
        if lang not in allowed:
            raise ValueError(f"{lang!r} is {LANGUAGES[lang].role.replace('_', '-')} and cannot be a {role} language")
    if len(set(languages)) != len(languages):
        raise ValueError("lists a language twice")


def _training_languages(value, empty: str = "list at least one training language"):
    """A non-empty list of trainable languages, or a mapping keyed by them (counts, ratios)."""
    if not value:
        raise ValueError(f"is empty; {empty}")
    _check_languages(list(value), TRAINABLE_LANGUAGES, "training")
    return value


class ModelSpec(Frozen):
    name: str
    path: str | None = None  # hub id or local directory, loaded with from_pretrained
    tiny: Literal["s", "m"] | None = None  # a tiny random-init model built locally (embedded default)
    params: float | None = Field(None, gt=0)  # parameter count, for `polymix plan` (tiny models: computed)
    profile: str | None = None  # a key of the study's `profiles`: GPUs, ZeRO stage, micro-batch for this size

    @model_validator(mode="after")
    def _one_source(self):
        if (self.path is None) == (self.tiny is None):
            raise ValueError("give exactly one of 'path' (hub id or directory) or 'tiny' (s or m)")
        return self


PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
# One count for every task, or one per task: the real datasets differ in size (mCoT-MATH 10,000 per
# language, mAPICall-Bank 3,024), and the augmentation design uses all of each.
CountPerTask = PositiveInt | dict[str, PositiveInt]


def _for_task(value: int | dict[str, int], task: str) -> int:
    return value[task] if isinstance(value, dict) else value


class DoseSpec(Frozen):
    """The Post-trainer's Guide's dose design (docs/studies.md §1b): fixed ``base`` counts (e.g. English) plus the same number
    of examples in each of ``languages`` (the seen languages), one mixture per dose in ``per_language``."""

    base: dict[str, CountPerTask]
    languages: list[str]
    per_language: list[NonNegativeInt]

    @field_validator("base", "languages")
    @classmethod
    def _languages(cls, value):
        return _training_languages(value)

    @field_validator("per_language")
    @classmethod
    def _doses(cls, doses):
        if not doses:
            raise ValueError("is empty; list the doses, e.g. [0, 100, 400, 1000]")
        if doses != sorted(set(doses)):
            raise ValueError("list each dose once, smallest first")
        return doses

    @model_validator(mode="after")
    def _disjoint(self):
        if both := sorted(set(self.base) & set(self.languages)):
            raise ValueError(f"{', '.join(both)} in both 'base' and 'languages'; a language is either fixed or dosed")
        return self


class MixtureSpec(Frozen):
    """One design: augmentation (``languages`` + ``per_language``), ratio (``total`` + ``ratios``), explicit counts
    per language (``examples``), or a dose design (``dose``), which stands for one mixture per dose."""

    name: str
    languages: list[str] | None = None
    per_language: CountPerTask | None = None
    total: CountPerTask | None = None
    ratios: dict[str, float] | None = None
    examples: dict[str, CountPerTask] | None = None
    dose: DoseSpec | None = None

    @model_validator(mode="after")
    def _one_design(self):
        augmentation = self.languages is not None or self.per_language is not None
        ratio = self.total is not None or self.ratios is not None
        if augmentation + ratio + (self.examples is not None) + (self.dose is not None) != 1:
            raise ValueError("give either 'languages' + 'per_language' (augmentation), 'total' + 'ratios' (ratio design), "
                             "'examples' (counts per language) or 'dose' (dose design)")
        if augmentation and (self.languages is None or self.per_language is None):
            raise ValueError("the augmentation design needs both 'languages' and 'per_language'")
        if ratio and (self.total is None or self.ratios is None):
            raise ValueError("the ratio design needs both 'total' and 'ratios'")
        return self

    @field_validator("languages", "examples", "ratios")
    @classmethod
    def _languages(cls, value, info):
        empty = {"languages": "list at least one training language", "examples": "give at least one language a count",
                 "ratios": "give at least one language a ratio"}
        return value if value is None else _training_languages(value, empty[info.field_name])

    @field_validator("ratios")
    @classmethod
    def _ratios(cls, ratios):
        if ratios is not None:
            if any(not 0 <= r <= 1 for r in ratios.values()):
                raise ValueError("every ratio must lie in [0, 1]")
            if not math.isclose(sum(ratios.values()), 1.0, abs_tol=1e-6):
                raise ValueError(f"sums to {sum(ratios.values()):.6g}, must sum to 1")
        return ratios

    def counts(self, task: str) -> dict[str, int]:
        if self.dose is not None:
            raise TypeError(f"mixture {self.name} is a dose design: take the counts of its expanded() mixtures")
        if self.ratios is not None:
            return ratio_counts(self.ratios, _for_task(self.total, task))
        if self.examples is not None:
            return {lang: _for_task(count, task) for lang, count in self.examples.items()}
        return augmentation_counts(self.languages, _for_task(self.per_language, task))

    def trained_languages(self) -> list[str]:
        if self.dose is not None:
            return [*self.dose.base, *self.dose.languages]
        return list(self.ratios or self.examples or self.languages)

    def expanded(self) -> list["MixtureSpec"]:
        """The mixtures this entry stands for: itself, or one per dose (``NAME-DOSE``, the dose-0 one is the base)."""
        if self.dose is None:
            return [self]
        d = self.dose
        return [MixtureSpec(name=f"{self.name}-{dose}", examples={**d.base, **{lang: dose for lang in d.languages if dose}})
                for dose in d.per_language]

    def per_task_fields(self) -> dict[str, object]:
        """The counts that may be given per task, by field name (each must then cover every task of the study)."""
        fields = {"per_language": self.per_language, "total": self.total}
        fields.update({f"examples.{lang}": count for lang, count in (self.examples or {}).items()})
        fields.update({f"dose.base.{lang}": count for lang, count in (self.dose.base if self.dose else {}).items()})
        return fields


TrainConfig = TrainSettings  # the one definition of training settings (training/settings.py)


class EvalConfig(Frozen):
    languages: list[str] | Literal["all"] = "all"
    test_examples: int | None = Field(None, ge=1)  # per language; None = the whole test split
    baseline: bool = False  # also evaluate every model untrained (the "pretrained-only" runs)
    batch_size: int = Field(64, ge=1)
    # A response written in another language than its prompt scores 0 (the Post-trainer's Guide's penalty, in the
    # tasks it applies to: instruction following); the fidelity itself is logged either way (eval/fidelity/<lang>).
    wrong_language_scores_zero: bool = False
    # New tokens a completion may generate, per task (validation and test); a task not named keeps its own budget
    # (training/tasks.py). Never taken from the references: a test set may hold no worked answers at all.
    max_new_tokens: dict[str, Annotated[int, Field(ge=1, le=32768)]] = {}

    @field_validator("languages")
    @classmethod
    def _languages(cls, languages):
        if languages != "all":
            if not languages:
                raise ValueError("is empty; list evaluation languages or write 'all'")
            _check_languages(languages, ALL_LANGUAGES, "evaluation")
        return languages

    def language_list(self) -> list[str]:
        return list(ALL_LANGUAGES) if self.languages == "all" else list(self.languages)

    def budget(self, task: str) -> int:
        """The generation budget of ``task``: the study's, else the task's own."""
        return self.max_new_tokens.get(task, TASKS[task].max_new_tokens)


class SourceSpec(Frozen):
    format: Literal[tuple(FORMATS)]  # training/loaders.py: the publishers' layouts
    path: str  # hub dataset id or local copy
    file: str | None = None  # the file (or folder) inside ``path`` where a format keeps all languages (mcot_math, aya_dolly)
    # Parallel rows per language to draw from the source (seeded by the study's seed; validation rows come out of
    # them), e.g. mCoT-MATH's 10,000 + 200 of ~580,000; None keeps every row.
    sample: int | None = Field(None, ge=1)
    # Rows per language the conversion must end with (after the draw), e.g. MGSM 250; a mismatch stops it.
    expected_rows: int | None = Field(None, ge=1)


class TaskSources(Frozen):
    train: SourceSpec  # validation rows are held out of it
    test: SourceSpec
    validation_size: int = Field(200, ge=1)  # per language (docs/studies.md §1a: math 200, API calling 150)


class DataConfig(Frozen):
    path: str | None = None  # DATA_DIR/{task}/{lang}/{split}.jsonl; None = the generated sample data
    sample_seed: int = 0
    sources: dict[str, TaskSources] | None = None  # real datasets per task, converted to the layout above

    @model_validator(mode="after")
    def _one_origin(self):
        if self.path is not None and self.sources is not None:
            raise ValueError("give either 'path' (data already in the polymix layout) or 'sources' (real datasets), not both")
        for task, sources in (self.sources or {}).items():
            for split in ("train", "test"):
                fmt = getattr(sources, split).format
                fmt_task, fmt_splits = FORMATS[fmt]
                if fmt_task != task or split not in fmt_splits:
                    raise ValueError(f"sources.{task}.{split}: format {fmt!r} provides {fmt_task} "
                                     f"{' and '.join(fmt_splits)} data, not {task} {split}")
        return self


class ResourcesConfig(Frozen):
    """Defaults for models without a profile, and the local Ray instance the embedded default starts."""

    workers_per_trial: int = Field(1, ge=1)
    cpus_per_worker: float = Field(1, gt=0)
    gpus_per_worker: float = Field(0, ge=0)
    max_concurrent_trials: int | None = Field(None, ge=1)
    local_cpus: int | None = Field(None, ge=2)  # logical CPUs of the local Ray instance (embedded default)
    local_gpus: int = Field(0, ge=0)  # logical GPUs of the local instance, for scheduling simulations


class ProfileSpec(Frozen):
    """How one model size runs: its worker group, and the DeepSpeed settings that make it fit."""

    workers: int = Field(1, ge=1)
    gpus_per_worker: float = Field(1, ge=0)
    cpus_per_worker: float = Field(4, gt=0)
    engine: Literal["ddp", "deepspeed"] = "deepspeed"
    zero_stage: Literal[0, 1, 2, 3] = 2
    micro_batch: int | None = Field(None, ge=1)  # None: the study's train.micro_batch


class PlanConfig(Frozen):
    """Assumptions of `polymix plan`'s cost estimate: FLOPs ≈ 6·params·tokens at a stated MFU."""

    cluster_gpus: int = Field(64, ge=1)
    gpu_peak_tflops: float = Field(312.0, gt=0)  # A100 bf16 dense peak
    mfu: float = Field(0.35, gt=0, le=1)
    # Mean tokens (prompt + target) of one training example per task, measured on the real data.
    tokens_per_example: dict[str, PositiveInt] = {}


class RatioSearchConfig(Frozen):
    """`polymix climb`: search the ratios of ``languages`` for every model × task of the study.

    Every run trains on ``total`` examples split by the proposed ratios and validates every searched
    language; the objective is Σ w_i · validation loss_i (lower is better).
    """

    strategy: Literal["climb", "regmix", "optuna"] = "climb"
    languages: list[str]
    total: CountPerTask  # examples per run: the budget D the ratios divide
    weights: dict[str, float] | None = None  # importance weights; None = uniform
    runs: int = Field(12, ge=2)  # SFT runs per model × task at most, the run that confirms the recommendation included
    initial_runs: int | None = Field(None, ge=2)  # climb: new proxy mixtures before the first fit (None: as
    # many as the law's n² + 2n parameters need, n + 2 from scratch, fewer when earlier runs are reused)
    min_gain: float = Field(0.0, ge=0)  # climb: stop once the fitted law predicts less gain than this
    asha: bool = False  # optuna: ASHA stops weak trials early on val/objective, one rung per epoch
    hparams: bool = False  # optuna: search the `tuning` section's space together with the ratios (joint search)
    seed: int = 0

    @field_validator("languages")
    @classmethod
    def _languages(cls, languages):
        if len(languages) < 2:
            raise ValueError("list at least two training languages to search ratios over")
        _check_languages(languages, TRAINABLE_LANGUAGES, "training")
        return languages

    @field_validator("weights")
    @classmethod
    def _weights(cls, weights, info):
        from search.climb import check_weights

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
        # (search.ratio_search.plan_searches), still before any trial starts.
        if self.strategy == "climb" and self.initial_runs and self.runs <= self.initial_runs:
            raise ValueError(f"runs={self.runs} leaves no run after the {self.initial_runs} initial mixtures; raise "
                             f"search.runs above {self.initial_runs} or lower search.initial_runs")
        if self.asha and self.strategy != "optuna":
            raise ValueError("asha: early stopping applies to strategy 'optuna' only (Climb and RegMix fit every run)")
        if self.hparams and self.strategy != "optuna":
            raise ValueError("hparams: a joint ratio and hyperparameter search needs strategy 'optuna' (Climb and RegMix "
                             "model ratios only)")
        return self

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
    samples: int | None = Field(None, ge=1)  # trials per model × task (default 8); grid: every combination once
    asha: bool = True  # stop weak trials early on the per-epoch validation metric (rungs = epochs)
    metric: Literal["val/avg_loss", "val/avg_acc"] = "val/avg_loss"  # of the trained languages; a finished
    # trial is scored by the epoch it kept (selected/<metric>)
    seed: int = 0

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


class TrackingConfig(Frozen):
    uri: str | None = None  # default: sqlite file in the work directory; MLFLOW_TRACKING_URI wins over both
    experiment: str | None = None  # default: the study name


class Study(Frozen):
    name: str
    seed: int = 0
    tasks: list[str]
    models: list[ModelSpec]
    mixtures: list[MixtureSpec] = []  # may stay empty in a study that only searches ratios (`search`)
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    data: DataConfig = DataConfig()
    resources: ResourcesConfig = ResourcesConfig()
    profiles: dict[str, ProfileSpec] = {}
    plan: PlanConfig = PlanConfig()
    tracking: TrackingConfig = TrackingConfig()
    search: RatioSearchConfig | None = None
    tuning: TuningConfig | None = None
    # "train": every run uses the train section (and its model's profile); "from_tuning": per model × task, the
    # best values of the experiment's latest `polymix tune` replace the tuned fields
    hparams: Literal["train", "from_tuning"] = "train"
    multitask: MultitaskConfig | None = None  # None: single-task runs only

    @field_validator("name")
    @classmethod
    def _name(cls, name):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise ValueError("use letters, digits, '_', '.' and '-' only")
        return name

    @field_validator("tasks")
    @classmethod
    def _tasks(cls, tasks):
        if not tasks:
            raise ValueError("is empty; list at least one of " + ", ".join(TASKS))
        for task in tasks:
            if task not in TASKS:
                raise ValueError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
        if len(set(tasks)) != len(tasks):
            raise ValueError("lists a task twice")
        return tasks

    @field_validator("models", "mixtures")
    @classmethod
    def _unique_names(cls, items, info):
        if not items and info.field_name == "models":
            raise ValueError("is empty; declare at least one of the study's models")
        names = [item.name for item in items]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate name(s) {', '.join(duplicates)}; every entry needs its own name")
        return items

    @model_validator(mode="after")
    def _cross_references(self):
        """Fields that name other parts of the study: profiles, per-task counts, plan tasks."""
        problems = []
        if not self.mixtures and self.search is None:
            problems.append("mixtures: is empty; declare at least one mixture (or a `search` section for `polymix climb`)")
        if isinstance(self.search and self.search.total, dict) and set(self.search.total) != set(self.tasks):
            problems.append(f"search.total: gives counts for {', '.join(sorted(self.search.total))}; give one count for "
                            f"every task of the study ({', '.join(self.tasks)})")
        for index, model in enumerate(self.models):
            if model.profile is not None and model.profile not in self.profiles:
                known = ", ".join(self.profiles) or "none declared"
                problems.append(f"models[{index}].profile: unknown profile {model.profile!r}; "
                                f"declare it under 'profiles' (known: {known})")
        for index, mixture in enumerate(self.mixtures):
            for field, value in mixture.per_task_fields().items():
                if isinstance(value, dict) and set(value) != set(self.tasks):
                    problems.append(f"mixtures[{index}].{field}: gives counts for {', '.join(sorted(value)) or 'no task'}; "
                                    f"give one count for every task of the study ({', '.join(self.tasks)})")
                    break
            else:
                for expanded in mixture.expanded():
                    problems.extend(self._budget_problems(index, expanded))
        names = [mixture.name for mixture in self.design_mixtures]
        if clashes := sorted({name for name in names if names.count(name) > 1} - self._duplicate_entries()):
            problems.append(f"mixtures: {', '.join(clashes)} named twice once doses are expanded (NAME-DOSE); rename one")
        for name, profile in self.profiles.items():
            per_step = (profile.micro_batch or self.train.micro_batch) * profile.workers
            if self.train.global_batch % per_step:
                problems.append(f"profiles.{name}: micro_batch × workers = {per_step} does not divide "
                                f"train.global_batch={self.train.global_batch}; change one of them")
        default_step = self.train.micro_batch * self.resources.workers_per_trial
        if any(m.profile is None for m in self.models) and self.train.global_batch % default_step:
            problems.append(f"train.global_batch={self.train.global_batch} is not a multiple of train.micro_batch × "
                            f"resources.workers_per_trial = {default_step}; change one of them")
        # Sources and budgets of tasks the study does not run (narrowed with --set tasks=[math]) are ignored; a name
        # that is no task at all is a typo.
        if self.data.sources is not None and not set(self.tasks) <= set(self.data.sources):
            problems.append(f"data.sources: covers {', '.join(sorted(self.data.sources)) or 'no task'}; give sources "
                            f"for every task of the study ({', '.join(self.tasks)})")
        problems += [f"eval.max_new_tokens.{task}: unknown task; use one of {', '.join(TASKS)}"
                     for task in self.eval.max_new_tokens if task not in TASKS]
        for task in self.plan.tokens_per_example:
            if task not in self.tasks:
                problems.append(f"plan.tokens_per_example.{task}: not a task of this study ({', '.join(self.tasks)})")
        if self.tuning is not None:
            problems.extend(self._tuning_problems())
        if self.multitask is not None:
            if "multi" in self.multitask.variants and len(self.tasks) < 2:
                problems.append("multitask.variants: a multi-task run needs at least two tasks in `tasks`")
            problems += [f"multitask.proportions.{task}: not a task of this study ({', '.join(self.tasks)})"
                         for task in self.multitask.proportions if task not in self.tasks]
        if self.search is not None and self.search.hparams and self.tuning is None:
            problems.append("search.hparams: a joint search takes its hyperparameter space from the `tuning` section; "
                            "add one (tuning.space)")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _duplicate_entries(self) -> set[str]:
        names = [mixture.name for mixture in self.mixtures]  # (reported by _unique_names already)
        return {name for name in names if names.count(name) > 1}

    @property
    def design_mixtures(self) -> list[MixtureSpec]:
        """Every mixture the study trains, dose designs expanded: what trials are made of."""
        return [expanded for mixture in self.mixtures for expanded in mixture.expanded()]

    def _tuning_problems(self) -> list[str]:
        names = {mixture.name for mixture in self.design_mixtures}
        problems = [] if self.tuning.mixture in names | {None} else [
            f"tuning.mixture: unknown mixture {self.tuning.mixture!r}; use one of {', '.join(sorted(names)) or 'none declared'}"]
        models = {model.name for model in self.models}
        problems += [f"tuning.models: unknown model {name!r}; use one of {', '.join(sorted(models))}"
                     for name in self.tuning.models or () if name not in models]
        return problems + self._tuned_value_problems()

    def _tuned_value_problems(self) -> list[str]:
        """Every value a search space can give must make a valid training setup for every tuned model: the
        bounds and choices are checked as the train section would be (lr > 0, warmup_ratio < 1, ...), and a
        searched global batch against each model's micro batch × workers and the reference mixture's size."""
        problems = []
        mixture = next((m for m in self.design_mixtures if m.name == self.tuning.mixture), None)
        setups: dict[tuple, list[str]] = {}  # models that share training settings share their problems
        for model in self.models:
            if self.tuning.models is None or model.name in self.tuning.models:
                profile = self.profile_of(model)
                workers = profile.workers if profile else self.resources.workers_per_trial
                setups.setdefault((self.train_of(model), workers), []).append(model.name)
        for name, distribution in self.tuning.space.items():
            values = list(distribution.choice or distribution.loguniform or distribution.uniform or distribution.int_)
            for (train, workers), names in setups.items():
                which = f" for model {', '.join(names)}" if len(setups) > 1 else ""
                for value in values:
                    try:
                        TrainConfig.model_validate({**train.model_dump(), name: value})
                    except ValidationError as error:
                        message = error.errors()[0]["msg"].removeprefix("Value error, ")
                        problems.append(f"tuning.space.{name}: value {value}{which}: {message}")
                        break
                    if name == "global_batch" and value % (train.micro_batch * workers):
                        problems.append(f"tuning.space.global_batch: {value}{which} is not a multiple of micro_batch × "
                                        f"workers = {train.micro_batch * workers}; choose multiples of it")
                        break
                    small = [task for task in self.tasks if name == "global_batch" and mixture
                             and sum(mixture.counts(task).values()) < value]
                    if small:
                        problems.append(f"tuning.space.global_batch: {value} is more than the {' and '.join(small)} "
                                        f"examples of mixture {mixture.name}; choose smaller batches")
                        break
        return list(dict.fromkeys(problems))

    def _budget_problems(self, index: int, mixture: MixtureSpec) -> list[str]:
        """A mixture too small to train: a listed language rounded to no example, or less than one global batch
        (the training loop would find no optimizer step to take, after the job had started). One line per
        problem, naming every task it affects."""
        problems, starved, small = [], {}, {}
        for task in self.tasks:
            counts = mixture.counts(task)
            for lang, ratio in (mixture.ratios or {}).items():
                if ratio > 0 and lang not in counts:
                    starved.setdefault(lang, []).append(f"{_for_task(mixture.total, task)} {task}")
            if sum(counts.values()) < self.train.global_batch:
                small[task] = sum(counts.values())
        if starved:
            problems.append(f"mixtures[{index}].total: " + "; ".join(f"{' and '.join(totals)} examples give {lang} no example"
                                                                     for lang, totals in starved.items())
                            + " at these ratios; raise total or drop the language")
        if small:
            problems.append(f"mixtures[{index}] ({mixture.name}): {' and '.join(f'{n} {task}' for task, n in small.items())} "
                            f"examples, fewer than one global batch (train.global_batch={self.train.global_batch}); "
                            f"raise its counts or lower train.global_batch")
        return problems

    def training_languages(self) -> list[str]:
        """Every language some run of the study trains on: the mixtures' and the ratio search's."""
        languages = {lang for mixture in self.design_mixtures for lang in mixture.trained_languages()}
        return sorted(languages | set(self.search.languages if self.search else ()))

    def profile_of(self, model: ModelSpec) -> ProfileSpec | None:
        return self.profiles.get(model.profile) if model.profile else None

    def train_of(self, model: ModelSpec) -> TrainConfig:
        """The train section with the model's profile applied (its engine, ZeRO stage and micro batch)."""
        profile = self.profile_of(model)
        if profile is None:
            return self.train
        return self.train.model_copy(update={"engine": profile.engine, "zero_stage": profile.zero_stage,
                                             "micro_batch": profile.micro_batch or self.train.micro_batch})


def _is_branch(part) -> bool:
    """A location part naming a union's branch (``constrained-int``, ``dict[str,...]``), not a field."""
    return isinstance(part, str) and part.startswith(("function-", "literal[", "int", "dict[", "constrained-", "list["))


def _format_location(location: tuple) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not _is_branch(part):
            name = str(part) if str(part).isprintable() else repr(part)  # a key like "\r" must not break the line
            text += f".{name}" if text else name
    return text


def _format_errors(error: ValidationError, source: str) -> str:
    lines, branches = [], set()
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key; check its spelling against the study schema (README)"
        elif item["type"] == "missing":
            message = "required field is missing"
        where = _format_location(item["loc"])
        if any(_is_branch(part) for part in item["loc"]):  # a union (count or per-task counts): its first branch's
            if where in branches:                         # complaint is the one that fits the value given
                continue
            branches.add(where)
        # Cross-field checks (study level) already name their fields, one problem per line.
        lines.extend(f"{source}: {where + ': ' if where else ''}{line}" for line in message.splitlines())
    return "\n".join(dict.fromkeys(lines))  # a union type reports the same problem once per branch


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """``--set train.lr=2e-5`` → raw["train"]["lr"] = 2e-5; ``--set models.0.path=…`` indexes a list (values
    parsed as YAML)."""
    for override in overrides:
        key, sep, value = override.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {override!r}: write KEY.PATH=VALUE, e.g. --set train.lr=2e-5")
        node = raw
        *parents, leaf = key.split(".")
        for part in [*parents, leaf]:
            if isinstance(node, list) and not (part.isdigit() and int(part) < len(node)):
                raise ConfigError(f"--set {override!r}: {part} is not an index of that list (0 to {len(node) - 1})")
            if not isinstance(node, (dict, list)):
                raise ConfigError(f"--set {override!r}: {previous} is not a section")
            if part is leaf:
                break
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
            previous = part
        node[int(leaf) if isinstance(node, list) else leaf] = yaml.safe_load(value)
    return raw


def parse_study(raw: object, source: str = "<study>") -> Study:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the study must be a YAML mapping with keys name, tasks, models, mixtures, ...")
    try:
        return Study.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_format_errors(error, source)) from None


def load_study(path: str | Path, overrides: list[str] = ()) -> Study:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: study file not found; pass the path of a study YAML such as configs/smoke.yaml")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save the study file as UTF-8") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: malformed YAML{where} ({getattr(error, 'problem', error)}); fix the syntax") from None
    if isinstance(raw, dict):
        raw = apply_overrides(raw, list(overrides))
    return parse_study(raw, str(path))


def preflight(study: Study, source: str = "<study>") -> None:
    """Checks that touch the file system (models, data), still before any Ray job starts."""
    from training.models import check_model_source

    for index, model in enumerate(study.models):
        if model.path is not None:
            try:
                check_model_source(model.path)
            except PolymixError as error:
                raise ConfigError(f"{source}: models[{index}].path: {error}") from None
    if study.data.path is not None and not Path(study.data.path).is_dir():
        raise ConfigError(f"{source}: data.path: {study.data.path} is not a directory; give a directory laid out as "
                          "{task}/{lang}/{split}.jsonl, or remove data.path to use the generated sample data")
