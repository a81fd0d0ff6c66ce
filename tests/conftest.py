import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
# As the CLI sets them before anything imports datasets or mlflow (ray_jobs/cli.py); a test imports those earlier.
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# Under pytest-xdist (scripts/test.sh) each worker gets a Ray temp dir of its own: `ray.init()` without an address
# joins a cluster recorded in its temp dir, which must never be a concurrent test's.
if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("RAY_TMPDIR"):
    os.environ["RAY_TMPDIR"] = os.path.join(os.environ["RAY_TMPDIR"], os.environ["PYTEST_XDIST_WORKER"])
    os.makedirs(os.environ["RAY_TMPDIR"], exist_ok=True)


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    """The default sample data, built once per machine where scripts/test.sh names a cache (read-only in tests)."""
    from training.sources import sample_data_dir

    return sample_data_dir(os.environ.get("POLYMIX_CACHE") or tmp_path_factory.mktemp("cache"))
