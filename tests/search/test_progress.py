"""The sweep's progress lines: counts and the best run, whatever order trials finish in."""

from types import SimpleNamespace

from search.runs.progress import Progress


def trial(trial_id, mixture, result, baseline=False):
    spec = {"model": {"name": "tiny-s"}, "task": "math", "mixture": mixture, "baseline": baseline}
    return SimpleNamespace(trial_id=trial_id, config={"trial": {"spec": spec}}, last_result=result)


def test_a_baseline_finishing_after_the_best_run_is_counted_not_failed(capsys):
    progress = Progress(total=3)
    runs = [trial("a", "en-es", {"eval/avg_seen": 0.2}), trial("b", "untrained", {"eval/avg_unseen": 0.0}, baseline=True),
            trial("c", "en", {"eval/avg_seen": 0.3})]
    for run in runs:
        progress.on_trial_start(0, [], run)
        progress.on_trial_complete(0, [], run)
    assert (progress.done, progress.failed, progress.best) == (3, 0, (0.3, "tiny-s/math/en"))
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "3/3 done · 0 running · 0 pending · best eval/avg_seen 0.300 (tiny-s/math/en)" in last


def test_a_trial_stopped_after_an_epoch_is_said_stopped_and_never_the_best(capsys):
    progress = Progress(total=2, metric="selected/val/avg_loss", label=lambda t: t.trial_id)
    kept = trial("a", "en", {"selected/val/avg_loss": 2.5, "val/avg_loss": 2.5})
    stopped = trial("b", "en", {"epoch": 1, "val/avg_loss": 1.0})  # ASHA's decision came on this epoch's report
    for run in (kept, stopped):
        progress.on_trial_start(0, [], run)
        progress.on_trial_complete(0, [], run)
    assert progress.best == (2.5, "a")  # a loss: lower is better, and only a trial's own last report counts
    assert "stopped b after epoch 1 (early stopping)" in capsys.readouterr().out.strip().splitlines()[-1]
