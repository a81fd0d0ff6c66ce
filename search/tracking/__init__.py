"""Tracking: everything polymix records goes through :class:`Tracker`, the one seam to the tracking store.

``tracker`` is the MLflow implementation (experiment = study, parent run = sweep or search, child run = trial,
keyed by its spec hash); ``journal`` keeps the writes a tracking server could not take during an outage;
``server`` locates the store and checks it answers; ``callbacks`` are the hooks Ray calls (a scheduler's stop
decisions, Train's per-epoch reports); ``results`` turns finished runs into the analysis' table. A new tracking
backend implements the public methods of :class:`Tracker`.
"""

from search.tracking.callbacks import MLflowEpochLogger, StopRecorder
from search.tracking.results import results_table
from search.tracking.server import (
                                    CREDENTIAL_ENV,
                                    check_tracking_server,
                                    default_tracking_uri,
                                    redact_uri,
                                    split_credentials,
                                    tracking_reachable,
)
from search.tracking.tracker import (
                                    CHECKPOINT_TAG,
                                    EVAL_LANGUAGES_PARAM,
                                    KIND_TAG,
                                    NODE_TAG,
                                    REVALIDATED_TAG,
                                    RUNS_VIEW_KEY,
                                    SEARCH_KEY_TAG,
                                    SPEC_HASH_TAG,
                                    STOPPED_TAG,
                                    STUDY_HASH_TAG,
                                    Tracker,
                                    study_document,
                                    study_params,
                                    tuned_tag,
)

__all__ = ["CHECKPOINT_TAG", "CREDENTIAL_ENV", "EVAL_LANGUAGES_PARAM", "KIND_TAG", "NODE_TAG", "REVALIDATED_TAG", "RUNS_VIEW_KEY", "SEARCH_KEY_TAG", "SPEC_HASH_TAG", "STOPPED_TAG",
           "STUDY_HASH_TAG", "MLflowEpochLogger", "StopRecorder", "Tracker", "check_tracking_server",
           "default_tracking_uri", "redact_uri", "results_table", "split_credentials", "study_document", "study_params",
           "tracking_reachable", "tuned_tag"]
