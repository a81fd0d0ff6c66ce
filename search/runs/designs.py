"""Study → trial list. One TrialSpec = one SFT run (or one untrained baseline evaluation)."""

from __future__ import annotations

import hashlib
import json
from typing import ClassVar

from search.study import MULTITASK, DataConfig, EvalConfig, Frozen, ModelSpec, Study, TrainConfig
from training.models import base_version


class TrialResources(Frozen):
    """What one trial's worker group asks of the cluster (not part of the run's identity)."""

    workers: int = 1
    cpus_per_worker: float = 1
    gpus_per_worker: float = 0
    trainer: str = "auto"  # resources.trainer

    @property
    def gpus(self) -> float:
        return self.workers * self.gpus_per_worker


# The version of what a spec trains and measures, part of every run's identity: raised when a fix changes the
# numbers the same spec gives, so that runs recorded before it are trained again instead of reused.
# 2: loss normalised by the target tokens of the global batch, every example once per epoch, weight decay by
#    parameter name, the tasks' generation budgets and stop strings, chrF-scored instruction rows without a
#    verifiable constraint, the language model's parameter count.
# 3: math answers read as the completion's language writes numbers ("2,5" is 2.5 in es, de, fr, ru).
# 4: a target is never cut (a too-long example loses its prompt's middle, or is dropped and counted); eval/unparsed.
RECIPE = 4


class TrialSpec(Frozen):
    study: str
    model: ModelSpec
    task: str
    mixture: str
    counts: dict[str, int]  # examples per training language; empty for a baseline
    train: TrainConfig
    eval: EvalConfig
    data: DataConfig
    seed: int
    baseline: bool = False
    resources: TrialResources = TrialResources()
    validation_languages: list[str] = []  # validated every epoch; empty = the trained languages (ratio search: all searched)
    tuned_from: str | None = None  # the `polymix tune` run whose best values this run's training uses
    # A multi-task run (task "multitask"): examples per language of each task; ``counts`` is then their sum per
    # language. Empty for a single-task run.
    tasks: dict[str, dict[str, int]] = {}
    # A run of a dose design: its dose (examples per dosed language) and the dosed ("seen") languages, for the
    # report's dose curves. Annotations of ``counts``, not part of the run's identity.
    dose: int | None = None
    dose_languages: list[str] = []
    # mixture.content: disjoint — the study's training languages, each of which takes its own block of the problems
    # (training/mixture.py); empty: parallel content, every language takes the same problems.
    content_pool: list[str] = []

    @property
    def in_trial_process(self) -> bool:
        """Trained (or, a baseline, evaluated) in the Tune trial's own process rather than in a Ray Train run: one
        CPU worker on the DDP engine, unless ``resources.trainer`` asks for Ray Train."""
        r = self.resources
        return r.trainer == "auto" and r.workers == 1 and not r.gpus_per_worker and self.train.engine == "ddp"

    def task_counts(self) -> dict[str, dict[str, int]]:
        """What the run trains on, per task: ``{task: {lang: examples}}``."""
        return self.tasks or {self.task: self.counts}

    def with_hparams(self, values: dict, tuned_from: str | None = None) -> "TrialSpec":
        """This trial with some training settings replaced (a tuning sample, or tuned values), validated as the
        train section is."""
        train = TrainConfig.model_validate({**self.train.model_dump(), **values})
        return self.model_copy(update={"train": train, "tuned_from": tuned_from or self.tuned_from})

    # The fields that define a run: two specs equal on these train and measure the same thing (under the same
    # RECIPE) and share one MLflow run. Not the study's name, nor the resources (the same run on another cluster
    # shape is the same run), nor where tuned values came from (the values are in ``train``: a grid run with the
    # best tuning trial's settings is that trial), nor the dose annotations (the counts say what is trained).
    # A new field is not part of the identity until it is named here (tests/search/test_study.py checks each
    # field is named here or in NOT_IDENTITY).
    IDENTITY: ClassVar[tuple[str, ...]] = ("model", "task", "mixture", "counts", "train", "eval", "data", "seed",
                                           "baseline", "validation_languages", "tasks", "content_pool")
    NOT_IDENTITY: ClassVar[tuple[str, ...]] = ("study", "resources", "tuned_from", "dose", "dose_languages")
    # Of the model: where its weights come from and its name; not its size annotation or profile name (the
    # profile's settings are in ``train``).
    MODEL_IDENTITY: ClassVar[tuple[str, ...]] = ("name", "path", "tiny", "init")

    @property
    def spec_hash(self) -> str:
        """Content hash of the fields that define the run (IDENTITY, with RECIPE): the run's identity."""
        fields = set(self.IDENTITY)
        if self.baseline:  # a baseline trains nothing, so its training settings must not make it a different run
            fields.discard("train")
        if not self.validation_languages:  # (empty: the trained languages; a ratio search names its own)
            fields.discard("validation_languages")
        if not self.tasks:  # (empty: a single-task run)
            fields.discard("tasks")
        if not self.content_pool:  # (empty: parallel content, as every run before the option)
            fields.discard("content_pool")
        model_fields = set(self.MODEL_IDENTITY) - ({"init"} if self.model.tiny is None else set())
        include = {field: model_fields if field == "model" else True for field in fields}
        content = {**self.model_dump(mode="json", include=include), "recipe": RECIPE}
        if self.model.tiny is not None and self.model.init == "pretrained":  # a new version of the base: new runs
            content["model"]["base"] = base_version(self.model.tiny)
        if self.data.path is None and self.data.sources is None:  # a new version of the sample data: new runs
            from training.sources import sample_data_version  # (imports datasets: not when validating a study)

            content["data"]["sample"] = sample_data_version(self.data.sample_seed)
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        return f"{self.model.name}/{self.task}/{self.mixture}"


def model_settings(study: Study, model: ModelSpec) -> tuple[TrainConfig, TrialResources]:
    """The study's training settings and resources, with the model's profile applied."""
    profile = study.profile_of(model)
    if profile is None:
        r = study.resources
        return study.train, TrialResources(workers=r.workers_per_trial, cpus_per_worker=r.cpus_per_worker,
                                           gpus_per_worker=r.gpus_per_worker, trainer=r.trainer)
    return study.train_of(model), TrialResources(workers=profile.workers, cpus_per_worker=profile.cpus_per_worker,
                                                 gpus_per_worker=profile.gpus_per_worker, trainer=study.resources.trainer)


def expand_trials(study: Study, tuned: dict[tuple[str, str], tuple[dict, str]] | None = None) -> list[TrialSpec]:
    """Every run of the study. ``tuned`` maps (model, task) to the best values of a tuning run and that run's id
    (``hparams: from_tuning``); those values replace the train section's for that model and task."""
    common = dict(study=study.name, eval=study.eval, data=study.data, seed=study.seed, content_pool=study.content_pool())
    trials = []
    for model in study.models:
        train, resources = model_settings(study, model)
        for task in study.tasks:
            if study.eval.baseline:
                trials.append(TrialSpec(model=model, task=task, mixture="untrained", counts={}, baseline=True,
                                        train=train, resources=resources, **{**common, "content_pool": []}))
            if study.multitask is not None and "single" not in study.multitask.variants:
                continue
            for mixture, dose in doses(study):
                trial = TrialSpec(model=model, task=task, mixture=mixture.name, counts=mixture.counts(task),
                                  train=train, resources=resources, **dose, **common)
                if tuned and (model.name, task) in tuned:
                    trial = trial.with_hparams(*tuned[model.name, task])
                trials.append(trial)
        if study.multitask is not None and "multi" in study.multitask.variants:
            trials.extend(multitask_trial(study, model, mixture, train, resources).model_copy(update=dose)
                          for mixture, dose in doses(study))
    return trials


def doses(study: Study) -> list[tuple]:
    """Every mixture of the study with its dose annotation (empty outside dose designs)."""
    return [(mixture, {"dose": level, "dose_languages": entry.dose.languages} if entry.dose else {})
            for entry in study.mixtures for mixture, level in zip(entry.expanded(), entry.dose.per_language if entry.dose else [None])]


def multitask_trial(study: Study, model: ModelSpec, mixture, train: TrainConfig, resources: TrialResources) -> TrialSpec:
    """One run on every task of the study: each task's mixture counts, scaled by its proportion."""
    tasks = {task: {lang: max(1, round(count * study.multitask.share(task))) for lang, count in mixture.counts(task).items()}
             for task in study.tasks}
    counts = {lang: sum(by_lang.get(lang, 0) for by_lang in tasks.values()) for lang in mixture.trained_languages()}
    return TrialSpec(study=study.name, model=model, task=MULTITASK, mixture=mixture.name, counts=counts, tasks=tasks,
                     train=train, resources=resources, eval=study.eval, data=study.data, seed=study.seed,
                     content_pool=study.content_pool())


def study_hash(trials: list[TrialSpec]) -> str:
    return hashlib.sha256("".join(sorted(t.spec_hash for t in trials)).encode()).hexdigest()[:16]
