"""The sections of a study file (models, mixtures, train, eval, data, resources, plan, tracking) as frozen
pydantic models; each validator's error names the field it checks.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from training.languages import ALL_LANGUAGES, LANGUAGES, TRAINABLE_LANGUAGES
from training.mixture import augmentation_counts, ratio_counts
from training.settings import TrainSettings
from training.tasks import FORMATS, TASKS

MAX_SEED = 2**32 - 1  # the widest seed every library a run seeds accepts (numpy's)


def _safe_name(name: str) -> str:
    # Names become parts of paths (checkpoints, reports), MLflow run names and Ray trial names.
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
        raise ValueError(f"{name[:80]!r}: use 1 to 64 letters, digits, '_', '.' and '-', starting with a letter or digit")
    return name


SafeName = Annotated[str, AfterValidator(_safe_name)]


class Frozen(BaseModel):
    # NaN and ±inf are refused in every float (a NaN learning rate or ratio would only fail inside a running job)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def check_languages(languages, allowed: tuple[str, ...], role: str) -> None:
    for lang in languages:
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}; use one of {', '.join(ALL_LANGUAGES)}")
        if lang not in allowed:
            raise ValueError(f"{lang!r} is {LANGUAGES[lang].role.replace('_', '-')} and cannot be a {role} language")
    if len(set(languages)) != len(languages):
        raise ValueError("lists a language twice")


def check_training_languages(value, empty: str = "list at least one training language"):
    """A non-empty list of trainable languages, or a mapping keyed by them (counts, ratios)."""
    if not value:
        raise ValueError(f"is empty; {empty}")
    check_languages(list(value), TRAINABLE_LANGUAGES, "training")
    return value


class ModelSpec(Frozen):
    name: SafeName
    path: str | None = None  # hub id or local directory, loaded with from_pretrained
    # A tiny model (embedded default): polymix's pre-trained base of that size (training/bases), or with init: random
    # a randomly initialised one built locally.
    tiny: Literal["s", "m"] | None = None
    init: Literal["pretrained", "random"] = "pretrained"
    params: float | None = Field(None, gt=0)  # parameter count, for `polymix plan` (tiny models: computed)
    profile: str | None = None  # a key of the study's `profiles`: GPUs, ZeRO stage, micro-batch for this size

    @model_validator(mode="after")
    def _one_source(self):
        if (self.path is None) == (self.tiny is None):
            raise ValueError("give exactly one of 'path' (hub id or directory) or 'tiny' (s or m)")
        if self.path is not None and self.init != "pretrained":
            raise ValueError("init: random applies to tiny models only; a model given by path is loaded as it is")
        return self


PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
# One count for every task, or one per task: the real datasets differ in size (mCoT-MATH 10,000 per
# language, mAPICall-Bank 3,024), and the augmentation design uses all of each.
CountPerTask = PositiveInt | dict[str, PositiveInt]


def for_task(value: int | dict[str, int], task: str) -> int:
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
        return check_training_languages(value)

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

    name: SafeName
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
        return value if value is None else check_training_languages(value, empty[info.field_name])

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
            return ratio_counts(self.ratios, for_task(self.total, task))
        if self.examples is not None:
            return {lang: for_task(count, task) for lang, count in self.examples.items()}
        return augmentation_counts(self.languages, for_task(self.per_language, task))

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
    batch_size: int = Field(64, ge=1, le=2**16)
    # A response written in another language than its prompt scores 0 (the Post-trainer's Guide's penalty, in the
    # tasks it applies to: instruction following); the fidelity itself is logged either way (eval/fidelity/<lang>).
    wrong_language_scores_zero: bool = False
    # New tokens a completion may generate, per task (validation and test); a task not named keeps its own budget
    # (training/tasks/). Never taken from the references: a test set may hold no worked answers at all.
    max_new_tokens: dict[str, Annotated[int, Field(ge=1, le=32768)]] = {}

    @field_validator("languages")
    @classmethod
    def _languages(cls, languages):
        if languages != "all":
            if not languages:
                raise ValueError("is empty; list evaluation languages or write 'all'")
            check_languages(languages, ALL_LANGUAGES, "evaluation")
        return languages

    def language_list(self) -> list[str]:
        return list(ALL_LANGUAGES) if self.languages == "all" else list(self.languages)

    def budget(self, task: str) -> int:
        """The generation budget of ``task``: the study's, else the task's own."""
        return self.max_new_tokens.get(task, TASKS[task].max_new_tokens)


class SourceSpec(Frozen):
    format: Literal[tuple(FORMATS)]  # the source formats the registered tasks read (training/tasks/)
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
    sample_seed: int = Field(0, ge=0, le=MAX_SEED)
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


class MixtureConfig(Frozen):
    """How the study's mixtures (and its ratio search) draw their examples across languages."""

    # parallel: every language takes the first ids of one seeded permutation, so the languages of a mixture are
    # translations of the same problems (the 220-run grid's design); disjoint: the permutation is cut into one
    # block per training language of the study, so no two languages share a problem (what the ratio search's
    # additive law assumes: every example adds new content). docs/studies.md §1d.
    content: Literal["parallel", "disjoint"] = "parallel"


class ResourcesConfig(Frozen):
    """Defaults for models without a profile, and the local Ray instance the embedded default starts."""

    workers_per_trial: int = Field(1, ge=1, le=100_000)
    cpus_per_worker: float = Field(1, gt=0)
    gpus_per_worker: float = Field(0, ge=0)
    max_concurrent_trials: int | None = Field(None, ge=1)
    local_cpus: int | None = Field(None, ge=2, le=100_000)  # logical CPUs of the local Ray instance (embedded default)
    local_gpus: int = Field(0, ge=0, le=100_000)  # logical GPUs of the local instance, for scheduling simulations
    # Where a job of one CPU worker (DDP engine) trains: `auto` in its Tune trial's own process, which saves the ~25 s
    # a Ray Train run costs to start and stop (docs/performance.md); `ray_train` in a TorchTrainer like every other
    # job. Jobs with several workers, GPUs or DeepSpeed always run in Ray Train.
    trainer: Literal["auto", "ray_train"] = "auto"


class ProfileSpec(Frozen):
    """How one model size runs: its worker group, and the DeepSpeed settings that make it fit."""

    workers: int = Field(1, ge=1)
    gpus_per_worker: float = Field(1, ge=0)
    cpus_per_worker: float = Field(4, gt=0)
    engine: Literal["ddp", "deepspeed"] = "deepspeed"
    zero_stage: Literal[0, 1, 2, 3] = 2
    micro_batch: int | None = Field(None, ge=1)  # None: the study's train.micro_batch


class PlanConfig(Frozen):
    """Assumptions of `polymix plan`'s cost estimate: training FLOPs ≈ 6·params·tokens at a stated MFU, generation
    (validation every epoch, the test evaluation) at a stated decoding throughput."""

    cluster_gpus: int = Field(64, ge=1, le=10**7)
    gpu_peak_tflops: float = Field(312.0, gt=0)  # A100 bf16 dense peak
    mfu: float = Field(0.35, gt=0, le=1)
    # Mean tokens (prompt + target) of one training example per task, measured on the real data.
    tokens_per_example: dict[str, PositiveInt] = {}
    # Generated tokens per second on one GPU (batched greedy decoding with transformers), per model name, and
    # `default` for the others: our estimate for a ~1B model on an A100 at batch 64; benchmarks/gpu_sft.py measures it.
    decode_tokens_per_s: dict[str, Annotated[float, Field(gt=0)]] = {"default": 2000.0}
    # Mean new tokens of one generated answer, per task; unset: the task's whole budget (eval.max_new_tokens), an
    # upper bound. A run's predictions.jsonl gives the measured figure (its `tokens`).
    generated_tokens_per_example: dict[str, PositiveInt] = {}
    # Test examples per language, per task, where the data cannot say before it is converted (data.sources);
    # eval.test_examples, the sample data and a data.path layout say it themselves.
    test_examples: dict[str, PositiveInt] = {}




class TrackingConfig(Frozen):
    uri: str | None = None  # default: sqlite file in the work directory; MLFLOW_TRACKING_URI wins over both
    experiment: str | None = None  # default: the study name
