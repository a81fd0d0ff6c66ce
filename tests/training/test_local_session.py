"""A one-CPU-worker job trained in the calling process (training/session.py LocalSession): what it keeps on disk,
what it reports, and where a restarted run resumes."""

import json
from pathlib import Path

import pytest

from training.session import REPORT_FILE, LocalSession
from training.settings import TrainSettings
from training.sft import OPTIMIZER_FILE, SELECTION_METRIC, SFTJob, run_sft


def write_marker(epoch: int):
    def write(directory: str) -> None:
        Path(directory).mkdir(parents=True)
        (Path(directory) / "polymix_job.json").write_text(json.dumps({"epoch": epoch}))
    return write


def test_keeps_the_best_and_the_latest_checkpoint_and_reports_each_epoch_after_saving_it(tmp_path):
    reported = []
    session = LocalSession(tmp_path / "run", SELECTION_METRIC, lambda metrics: reported.append(
        (metrics["epoch"], sorted(p.name for p in (tmp_path / "run").glob("epoch_*")))))
    for epoch, score in ((1, 0.5), (2, 0.3), (3, 0.4)):
        session.report({"epoch": epoch, SELECTION_METRIC: score}, write_marker(epoch), f"epoch_{epoch:03d}")

    # each report reached the callback with its own checkpoint already in place
    assert reported == [(1, ["epoch_001"]), (2, ["epoch_001", "epoch_002"]), (3, ["epoch_001", "epoch_003"])]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["epoch_001", "epoch_003"]  # epoch 2: neither
    best_dir, best = session.best()
    assert best_dir.name == "epoch_001" and best == {"epoch": 1, SELECTION_METRIC: 0.5}
    with session.restored() as directory:
        assert Path(directory).name == "epoch_003"  # a restart continues after the last reported epoch


def test_a_half_written_checkpoint_is_never_restored_and_ties_keep_the_earliest_epoch(tmp_path):
    session = LocalSession(tmp_path / "run", SELECTION_METRIC, lambda metrics: None)
    with session.restored() as directory:
        assert directory is None  # a fresh run
    session.report({"epoch": 1, SELECTION_METRIC: 0.5}, write_marker(1), "epoch_001")
    session.report({"epoch": 2, SELECTION_METRIC: 0.5}, write_marker(2), "epoch_002")
    (tmp_path / "run" / ".epoch_003.partial").mkdir()  # a run killed while writing epoch 3
    with session.restored() as directory:
        assert Path(directory).name == "epoch_002"
    assert session.best()[0].name == "epoch_001"


@pytest.fixture(scope="module")
def tiny_s(tmp_path_factory, sample_dir) -> str:
    from training.models import make_tiny_model

    corpus = (line for f in sorted(sample_dir.glob("*/*/train.jsonl")) for line in f.read_text(encoding="utf-8").splitlines())
    return str(make_tiny_model(tmp_path_factory.mktemp("models") / "tiny-s", "s", corpus, seed=0))


def test_run_sft_in_this_process_trains_reports_and_a_longer_rerun_resumes_after_the_last_epoch(tmp_path, sample_dir, tiny_s):
    model_path = tiny_s
    settings = dict(lr=3e-3, global_batch=16, micro_batch=8, max_seq_len=128, validation_examples=4)
    reports = []
    run_dir = tmp_path / "run"

    def job(epochs: int) -> SFTJob:
        return SFTJob(model_path=model_path, task="math", data_dir=str(sample_dir), counts={"en": 32, "es": 16},
                      train=TrainSettings(epochs=epochs, **settings))

    def validator(model, tokenizer, task, rows):  # (the study's is generation; here a fixed score per language)
        return {lang: 0.25 for lang in rows}

    run_sft(job(2), validator, LocalSession(run_dir, SELECTION_METRIC, reports.append))
    assert [r["epoch"] for r in reports] == [1, 2]
    first = reports[0]
    assert {"train/loss", "train/seconds", "val/loss/en", "val/loss/es", "val/acc/es", "val/seconds", SELECTION_METRIC} <= set(first)
    assert first["train/resumed_from_epoch"] == 0 and reports[1]["train/loss"] < first["train/loss"]
    kept = sorted(p.name for p in run_dir.iterdir())
    # equal accuracies: the lower validation loss decides; the latest (epoch 2) is kept either way
    assert kept == ["epoch_002"] if reports[1]["val/avg_loss"] < first["val/avg_loss"] else kept == ["epoch_001", "epoch_002"]
    assert json.loads((run_dir / "epoch_002" / REPORT_FILE).read_text())["epoch"] == 2
    assert (run_dir / "epoch_002" / "model.safetensors").is_file()

    run_sft(job(3), validator, LocalSession(run_dir, SELECTION_METRIC, reports.append))  # the same run, one epoch more
    assert [r["epoch"] for r in reports] == [1, 2, 3] and reports[2]["train/resumed_from_epoch"] == 2


def test_a_run_resumed_after_a_crash_trains_as_the_uninterrupted_run(tmp_path, sample_dir, tiny_s):
    """The checkpoint carries AdamW's moments: the epoch after a restart has the uninterrupted run's losses (with the
    moments restarted instead, epoch 3's training loss differed by 3e-3 here)."""
    job = SFTJob(model_path=tiny_s, task="math", data_dir=str(sample_dir), counts={"en": 32, "es": 16},
                 train=TrainSettings(epochs=3, lr=3e-3, global_batch=16, micro_batch=8, max_seq_len=128, validation_examples=4))

    def validator(model, tokenizer, task, rows):
        return {lang: 0.0 for lang in rows}

    whole = []
    run_sft(job, validator, LocalSession(tmp_path / "whole", SELECTION_METRIC, whole.append))

    class Crash(Exception):
        pass

    def crash_after_epoch_2(metrics):  # the process dies once epoch 2's checkpoint is in place
        if metrics["epoch"] == 2:
            raise Crash

    with pytest.raises(Crash):
        run_sft(job, validator, LocalSession(tmp_path / "crashed", SELECTION_METRIC, crash_after_epoch_2))
    assert (tmp_path / "crashed" / "epoch_002" / OPTIMIZER_FILE).is_file()
    resumed = []
    run_sft(job, validator, LocalSession(tmp_path / "crashed", SELECTION_METRIC, resumed.append))

    assert [r["epoch"] for r in resumed] == [3] and resumed[0]["train/resumed_from_epoch"] == 2
    for key in ("train/loss", "train/lr", "val/loss/en", "val/loss/es"):
        assert resumed[0][key] == pytest.approx(whole[2][key], abs=1e-6), key


def test_the_kept_checkpoint_follows_accuracy_loss_or_a_searchs_objective():
    """Ray (or the local session) keeps the checkpoint of the highest SELECTION_METRIC. A ratio search's run keeps
    its lowest objective, the weighted loss its search fits, even where accuracy and average loss disagree."""
    from training.sft import validation_metrics

    losses = {"math": {"en": 1.0, "es": 3.0}}
    accuracy = {"math": {"en": 0.5, "es": 0.1}}
    by_accuracy = SFTJob("m", "math", "d", {"en": 8})
    by_loss = SFTJob("m", "math", "d", {"en": 8}, train=TrainSettings(select_by="val_loss"))
    searched = SFTJob("m", "math", "d", {"en": 8}, objective_weights={"en": 0.25, "es": 0.75})
    assert validation_metrics(by_accuracy, losses, accuracy)[SELECTION_METRIC] == pytest.approx(0.3 - 2e-6)
    assert validation_metrics(by_loss, losses, accuracy)[SELECTION_METRIC] == -2.0
    metrics = validation_metrics(searched, losses, accuracy)
    assert metrics["val/objective"] == 2.5 and metrics[SELECTION_METRIC] == -2.5
