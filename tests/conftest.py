import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
# As the CLI sets them before anything imports datasets or mlflow (ray_jobs/cli.py); a test imports those earlier.
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    from training.sources import sample_data_dir

    return sample_data_dir(tmp_path_factory.mktemp("cache"))
