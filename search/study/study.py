"""The whole study: its sections and the cross-checks between them (languages, tasks, sources, searches).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from evaluation.scorers import check_task_registry
from search.study.searches import MultitaskConfig, RatioSearchConfig, TuningConfig
from search.study.sections import (
    MAX_SEED,
    DataConfig,
    EvalConfig,
    Frozen,
    MixtureConfig,
    MixtureSpec,
    ModelSpec,
    PlanConfig,
    ProfileSpec,
    ResourcesConfig,
    SafeName,
    TrackingConfig,
    TrainConfig,
    for_task,
)
from training.errors import ConfigError
from training.tasks import TASKS


class Study(Frozen):
    name: SafeName
    seed: int = Field(0, ge=0, le=MAX_SEED)
    tasks: list[str]
    models: list[ModelSpec]
    mixtures: list[MixtureSpec] = []  # may stay empty in a study that only searches ratios (`search`)
    mixture: MixtureConfig = MixtureConfig()
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
        try:  # a task that cannot be scored (or generated, or read) is refused now, not after its training
            check_task_registry({task: TASKS[task] for task in tasks})
        except ConfigError as error:
            raise ValueError(str(error)) from None
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
        for field in ("tokens_per_example", "generated_tokens_per_example", "test_examples"):
            problems += [f"plan.{field}.{task}: not a task of this study ({', '.join(self.tasks)})"
                         for task in getattr(self.plan, field) if task not in self.tasks]
        models = {model.name for model in self.models}
        problems += [f"plan.decode_tokens_per_s.{name}: not a model of this study; use a model's name or `default`"
                     for name in self.plan.decode_tokens_per_s if name not in models | {"default"}]
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
                    starved.setdefault(lang, []).append(f"{for_task(mixture.total, task)} {task}")
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

    def content_pool(self) -> list[str]:
        """The languages that split the problems among them (``mixture.content: disjoint``); empty when parallel."""
        return self.training_languages() if self.mixture.content == "disjoint" else []

    def profile_of(self, model: ModelSpec) -> ProfileSpec | None:
        return self.profiles.get(model.profile) if model.profile else None

    def train_of(self, model: ModelSpec) -> TrainConfig:
        """The train section with the model's profile applied (its engine, ZeRO stage and micro batch)."""
        profile = self.profile_of(model)
        if profile is None:
            return self.train
        return self.train.model_copy(update={"engine": profile.engine, "zero_stage": profile.zero_stage,
                                             "micro_batch": profile.micro_batch or self.train.micro_batch})
