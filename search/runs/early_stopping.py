"""ASHA at epoch rungs, recording every trial it stops so that its run ends KILLED, not FAILED.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ray.tune.schedulers import ASHAScheduler, TrialScheduler

STOPPED_BY_ASHA = "stopped early by ASHA"  # the STOPPED_TAG of a run ASHA stopped


class RecordingASHA(ASHAScheduler):
    """ASHA that hands every trial it stops to ``on_stop`` (with the trial's config) before Tune acts on the
    decision, so that the trial's run is known to be stopped, not failed, whatever the trial does meanwhile."""

    def __init__(self, on_stop: Callable[[dict], None] | None = None, **asha):
        super().__init__(**asha)
        self.on_stop = on_stop

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        decision = super().on_trial_result(tune_controller, trial, result)
        if decision == TrialScheduler.STOP and self.on_stop is not None:
            self.on_stop(trial.config)
        return decision


def early_stopping(metric: str, mode: str, max_epochs: int, on_stop: Callable[[dict], None] | None = None):
    """ASHA with its rungs at epochs (the per-epoch reports carry ``epoch``; training/sft.py): 1, 2, 4, ... below
    the last epoch, or None for one-epoch trials (nothing to stop early). A trial that reaches its last epoch is
    never stopped: its training is done, it goes on to its test evaluation. (ASHA puts a rung at ``max_t`` when it
    is a power of the reduction factor, so ``max_t`` is the epoch before the last, and ``stop_last_trials=False``.)
    ``on_stop`` gets the config of each trial stopped, before Tune stops it (search.tracking.StopRecorder).

    A trial ASHA stops is in the middle of TorchTrainer.fit(): its actor cannot be reused (run such a Tuner with
    ``reuse_actors=False``), and it must end for the trainer it owns to end too. Tune ends a stopping actor after
    TUNE_FORCE_TRIAL_CLEANUP_S (default 600 s, a stalled search); Train V2 then frees the workers' placement group.
    """
    if max_epochs < 2:
        return None
    os.environ.setdefault("TUNE_FORCE_TRIAL_CLEANUP_S", "5")
    return RecordingASHA(on_stop, time_attr="epoch", metric=metric, mode=mode, max_t=max_epochs - 1, grace_period=1,
                         reduction_factor=2, stop_last_trials=False)
