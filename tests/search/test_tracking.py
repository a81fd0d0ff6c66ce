"""Tracker bookkeeping on a real MLflow store (SQLite file)."""

from search.tracking import STOPPED_TAG, Tracker


def test_runs_of_stopped_trials_end_killed_with_the_reason_and_finished_runs_are_untouched(tmp_path):
    """A trial ASHA stops leaves its run RUNNING (actor ended) or FAILED (its handler ran first): both become KILLED."""
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = tracker.experiment_id("stops", tmp_path / "artifacts")
    parent, _ = tracker.parent_run(experiment_id, "study-hash", "stops", {})
    runs = {h: tracker.start_child(experiment_id, parent, h, h, {}, {}) for h in ("left-running", "crashed", "done", "other")}
    tracker.log_metrics(runs["crashed"], {"val/objective": 4.2})
    tracker.finish(runs["crashed"], "FAILED")
    tracker.finish(runs["done"])
    tracker.finish(runs["other"], "FAILED")

    assert tracker.mark_stopped(experiment_id, ["left-running", "crashed", "done"], "stopped early by ASHA") == 2

    status = {h: tracker.get_run(run_id) for h, run_id in runs.items()}
    assert status["left-running"].status == status["crashed"].status == "KILLED"
    assert status["crashed"].tags[STOPPED_TAG] == "stopped early by ASHA"
    assert status["crashed"].metrics["val/objective"] == 4.2  # the epochs it ran stay
    assert status["done"].status == "FINISHED" and STOPPED_TAG not in status["done"].tags
    assert status["other"].status == "FAILED"  # a real failure of another trial is not relabelled


def test_the_220_run_studys_parent_run_holds_its_study_whatever_its_length(tmp_path):
    """The whole study as one param (6,572 characters) was past MLflow's 6,000: the sweep of the real study could
    not even open its parent run. Each section is a param, the whole study an artifact."""
    import json
    from pathlib import Path

    from search.study import load_study

    study = load_study(Path(__file__).resolve().parents[2] / "configs/english_not_all.yaml")
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = tracker.experiment_id("english-not-all", tmp_path / "artifacts")
    parent, _ = tracker.parent_run(experiment_id, "study-hash", study.name, {"n_trials": 230}, study=study)
    params = tracker.get_run(parent).params
    assert params["eval_languages"] == "en,es,ja,bn,sw,te" and params["n_trials"] == "230"
    assert json.loads(params["study.eval"])["max_new_tokens"] == {"math": 512, "api": 128}
    document = json.loads(Path(tracker.client.download_artifacts(parent, "study.json", str(tmp_path))).read_text())
    assert len(document["mixtures"]) == 22 and document["data"]["sources"]["math"]["train"]["sample"] == 10200


def test_a_trial_asha_stops_ends_killed_whichever_of_its_handler_and_the_driver_writes_first(tmp_path):
    """The flaky ending (FAILED instead of KILLED): stopping a trial could interrupt its training with an exception
    before Tune counted it as stopped, so its handler wrote FAILED and the driver, which only relabelled runs of
    trials that ended without an error, left it. Now ASHA tags the run before Tune acts, the handler reads the tag,
    and the driver marks what ASHA decided, not what the trial's ending looked like."""
    from types import SimpleNamespace

    from ray.tune.schedulers import TrialScheduler

    from search.runs.early_stopping import STOPPED_BY_ASHA, early_stopping
    from search.tracking import STOPPED_TAG, StopRecorder

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri)
    experiment_id = tracker.experiment_id("asha", tmp_path / "artifacts")
    parent, _ = tracker.parent_run(experiment_id, "study-hash", "asha", {})
    runs = {h: tracker.start_child(experiment_id, parent, h, h, {}, {}) for h in ("good", "better", "worst")}
    recorder = StopRecorder(uri, experiment_id, lambda config: config["spec_hash"], STOPPED_BY_ASHA)
    asha = early_stopping("val/avg_loss", "min", max_epochs=3, on_stop=recorder)
    decisions = {}
    for spec_hash, loss in (("good", 2.0), ("better", 1.5), ("worst", 9.0)):  # the order they reach epoch 1
        trial = SimpleNamespace(trial_id=spec_hash, config={"spec_hash": spec_hash})
        asha.on_trial_add(None, trial)
        decisions[spec_hash] = asha.on_trial_result(None, trial, {"epoch": 1, "val/avg_loss": loss})
    assert decisions == {"good": TrialScheduler.CONTINUE, "better": TrialScheduler.CONTINUE, "worst": TrialScheduler.STOP}
    assert recorder.stopped == ["worst"]
    # the stopped trial's handler (its training interrupted with an exception) ends the run before the driver
    # writes: KILLED by the tag; the driver's mark is idempotent
    assert tracker.end_interrupted(runs["worst"]) == "KILLED"
    assert tracker.mark_stopped(experiment_id, recorder.stopped, STOPPED_BY_ASHA) == 1
    worst = tracker.get_run(runs["worst"])
    assert worst.status == "KILLED" and worst.tags[STOPPED_TAG] == STOPPED_BY_ASHA
    assert tracker.get_run(runs["good"]).status == "RUNNING"


def test_a_stopped_trials_late_handler_never_turns_killed_into_failed(tmp_path):
    """Tune does not wait for a stopped trial's actor: the driver's mark_stopped may end the run KILLED before the
    trial's own handler runs (the flaky FAILED of tests/e2e/test_tuning.py). Both orders end KILLED; a run whose
    trial failed on its own ends FAILED."""
    from search.runs.early_stopping import STOPPED_BY_ASHA
    from search.tracking import STOPPED_TAG

    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = tracker.experiment_id("asha", tmp_path / "artifacts")
    parent, _ = tracker.parent_run(experiment_id, "study-hash", "asha", {})
    stopped, crashed = (tracker.start_child(experiment_id, parent, h, h, {}, {}) for h in ("stopped", "crashed"))
    assert tracker.mark_stopped(experiment_id, ["stopped"], STOPPED_BY_ASHA) == 1  # the driver first
    assert tracker.end_interrupted(stopped) is None  # then the stopped trial's handler: leaves it as it is
    assert tracker.get_run(stopped).status == "KILLED" and tracker.get_run(stopped).tags[STOPPED_TAG] == STOPPED_BY_ASHA
    assert tracker.end_interrupted(crashed) == "FAILED"
    assert tracker.get_run(crashed).status == "FAILED"
    # a crashed run the driver believes stopped (its handler wrote FAILED first) is still marked KILLED
    assert tracker.mark_stopped(experiment_id, ["crashed"], STOPPED_BY_ASHA) == 1
    assert tracker.get_run(crashed).status == "KILLED"


def test_searches_return_every_run_past_one_page(tmp_path, monkeypatch):
    """A study swept again and again outgrows any fixed max_results (the caps were 50 runs per spec hash, 500 tuning
    runs, 5,000 trial runs): every search follows MLflow's page tokens. A page of 16 stands in for MLflow's 1,000,
    and 52 unfinished runs of one spec pass the old cap of 50."""
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

    import search.tracking.tracker
    from search.tracking import KIND_TAG, SPEC_HASH_TAG

    monkeypatch.setattr(search.tracking.tracker, "SEARCH_PAGE_SIZE", 16)
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = tracker.experiment_id("many", tmp_path / "artifacts")
    parent, _ = tracker.parent_run(experiment_id, "study-hash", "many", {})
    hashes = ["spec-0"] * 52 + ["spec-1"] * 8
    runs = [tracker.client.create_run(experiment_id, run_name=f"run-{i}", tags={
        MLFLOW_PARENT_RUN_ID: parent, SPEC_HASH_TAG: spec_hash, KIND_TAG: "trial"}).info.run_id
        for i, spec_hash in enumerate(hashes)]

    assert tracker.mark_stopped(experiment_id, ["spec-0"], "stopped early by ASHA") == 52
    for run_id in runs[52:]:
        tracker.finish(run_id)
    by_hash = tracker.runs_by_spec_hash(experiment_id)
    assert {h: len(rs) for h, rs in by_hash.items()} == {"spec-0": 52, "spec-1": 8}
    finished = tracker.trial_runs("many", parent)
    assert sorted(r.run_id for r in finished) == sorted(runs[52:])
    starts = [r.start_time for r in by_hash["spec-0"]]
    assert starts == sorted(starts, reverse=True)  # newest first across pages
