"""The study: what a team declares (languages, tasks, models, mixtures, searches) as validated, frozen models.

``sections`` holds the file's sections, ``searches`` the sections that search (ratio search, tuning, multi-task
variants), ``study`` the whole study and its cross-checks, ``loading`` YAML → Study with readable errors. Everything
a caller needs is importable from here.
"""

from search.study.loading import apply_overrides, load_study, parse_study, preflight
from search.study.searches import MULTITASK, TUNABLE, Distribution, MultitaskConfig, RatioSearchConfig, TuningConfig
from search.study.sections import (
                                   DataConfig,
                                   DoseSpec,
                                   EvalConfig,
                                   Frozen,
                                   MixtureSpec,
                                   ModelSpec,
                                   PlanConfig,
                                   ProfileSpec,
                                   ResourcesConfig,
                                   SourceSpec,
                                   TaskSources,
                                   TrackingConfig,
                                   TrainConfig,
)
from search.study.study import Study

__all__ = ["MULTITASK", "TUNABLE", "DataConfig", "Distribution", "DoseSpec", "EvalConfig", "Frozen", "MixtureSpec",
           "ModelSpec", "MultitaskConfig", "PlanConfig", "ProfileSpec", "RatioSearchConfig", "ResourcesConfig",
           "SourceSpec", "Study", "TaskSources", "TrackingConfig", "TrainConfig", "TuningConfig", "apply_overrides",
           "load_study", "parse_study", "preflight"]
