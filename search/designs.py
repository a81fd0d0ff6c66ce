"""Study → trial list. One TrialSpec = one SFT run (or one untrained baseline evaluation)."""

from __future__ import annotations

import hashlib
import json

from search.study import DataConfig, EvalConfig, Frozen, ModelSpec, Study, TrainConfig


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

    @property
    def spec_hash(self) -> str:
        """Content hash of everything that determines the result (not the study's name): the run's identity."""
        # A baseline trains nothing, so its training settings must not make it a different run.
        content = self.model_dump(mode="json", exclude={"study", "train"} if self.baseline else {"study"})
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        return f"{self.model.name}/{self.task}/{self.mixture}"


def expand_trials(study: Study) -> list[TrialSpec]:
    common = dict(study=study.name, train=study.train, eval=study.eval, data=study.data, seed=study.seed)
    trials = []
    for model in study.models:
        for task in study.tasks:
            if study.eval.baseline:
                trials.append(TrialSpec(model=model, task=task, mixture="untrained", counts={}, baseline=True, **common))
            for mixture in study.mixtures:
                trials.append(TrialSpec(model=model, task=task, mixture=mixture.name, counts=mixture.counts(), **common))
    return trials


def study_hash(trials: list[TrialSpec]) -> str:
    return hashlib.sha256("".join(sorted(t.spec_hash for t in trials)).encode()).hexdigest()[:16]
