"""What a running sweep or search prints: one line per change instead of Ray's logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ray import tune


class Progress(tune.Callback):
    """One line per change: trials done / running / pending and the current best, instead of Ray's logs."""

    def __init__(self, total: int, metric: str = "eval/avg_seen", label: Callable | None = None):
        self.total, self.metric = total, metric
        self.higher_is_better = not metric.endswith(("objective", "loss"))
        if label is not None:
            self._label = label
        self.running, self.done, self.failed, self.best = set(), 0, 0, None
        self.started = time.time()

    def _line(self, event: str) -> None:
        pending = self.total - self.done - self.failed - len(self.running)
        best = f" · best {self.metric} {self.best[0]:.3f} ({self.best[1]})" if self.best else ""
        print(f"[polymix {time.time() - self.started:5.0f}s] {self.done}/{self.total} done · {len(self.running)} running · "
              f"{pending} pending{' · ' + str(self.failed) + ' failed' if self.failed else ''}{best} — {event}", flush=True)

    @staticmethod
    def _label(trial) -> str:
        spec = trial.config["trial"]["spec"]
        return f"{spec['model']['name']}/{spec['task']}/{spec['mixture']}"

    def on_trial_start(self, iteration, trials, trial, **info):
        self.running.add(trial.trial_id)
        self._line(f"started {self._label(trial)}")

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if "epoch" in result and "val/avg_acc" in result:
            loss = (f", val objective {result['val/objective']:.4f}" if "val/objective" in result
                    else f", val loss {result['val/avg_loss']:.4f}" if "val/avg_loss" in result else "")
            self._line(f"{self._label(trial)} epoch {result['epoch']}: val acc {result['val/avg_acc']:.3f}{loss}")

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.running.discard(trial.trial_id)
        self.done += 1
        value = trial.last_result.get(self.metric)
        baseline = trial.config.get("trial", {}).get("spec", {}).get("baseline", False)
        # A baseline has no seen languages (no eval/avg_seen) and never competes for the best.
        if value is not None and not baseline and (
                self.best is None or (value > self.best[0] if self.higher_is_better else value < self.best[0])):
            self.best = (value, self._label(trial))
        if "epoch" in trial.last_result:  # its last report is an epoch's, not the trial's own: a scheduler stopped it
            self._line(f"stopped {self._label(trial)} after epoch {trial.last_result['epoch']} (early stopping)")
            return
        reused = " (reused finished run)" if trial.last_result.get("reused") else ""
        self._line(f"finished {self._label(trial)}{reused}")

    def on_trial_error(self, iteration, trials, trial, **info):
        self.running.discard(trial.trial_id)
        self.failed += 1
        self._line(f"FAILED {self._label(trial)}")
