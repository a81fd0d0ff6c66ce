"""The pieces of re-validation that the e2e climb test does not reach: a Ray Train checkpoint's location, and the
initial design planned before any job starts."""

from types import SimpleNamespace

import numpy as np
import ray

from search.mixtures.climb_loop import new_initial_runs
from search.runs.revalidation import Unvalidated, checkpoint_exists, expected_measured
from search.runs.trial import checkpoint_location


def test_a_ray_checkpoints_location_opens_it_again(tmp_path):
    (tmp_path / "model.safetensors").write_text("weights")
    location = checkpoint_location(ray.train.Checkpoint.from_directory(str(tmp_path)))
    assert location == str(tmp_path) and checkpoint_exists(location)
    with ray.train.Checkpoint(path=location).as_directory() as path:
        assert (tmp_path / "model.safetensors").read_text() == open(f"{path}/model.safetensors").read()
    assert not checkpoint_exists(str(tmp_path / "gone")) and checkpoint_exists("s3://bucket/run/checkpoint_000002")


def test_the_initial_design_is_planned_on_the_runs_as_they_will_be_once_validated():
    languages = ["en", "es", "fr"]
    ratios = np.array([[0.5, 0.5, 0.0]] * 6)
    losses = np.column_stack([np.ones((6, 2)), np.full(6, np.nan)])
    runs = [SimpleNamespace(run_id=f"run{i}") for i in range(6)]
    checkpoints = [Unvalidated(run.run_id, {"en": 300, "es": 300}, f"/ckpt/{run.run_id}", ("fr",), ()) for run in runs[:5]]
    planned = expected_measured((ratios, losses), runs, checkpoints, languages)
    assert np.isnan(planned[1][5, 2]) and not np.isnan(planned[1][:5, 2]).any()
    assert np.isnan(losses[:, 2]).all()  # the runs' own losses are left as they are
    # fr then measured by 5 runs (1 short of n + 3) and trained by none (4 short of its curve's 4): 4 new runs; 6 without
    assert new_initial_runs(3, planned) == 4 and new_initial_runs(3, (ratios, losses)) == 6
