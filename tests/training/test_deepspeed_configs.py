"""Every DeepSpeed config polymix writes is accepted by DeepSpeed's own config parser."""

import pytest

from search.runs.designs import expand_trials
from search.study import load_study
from training.settings import TrainSettings
from training.sft import SFTJob, accumulation_steps, deepspeed_config


@pytest.fixture
def deepspeed_world(monkeypatch):
    """DeepSpeed reads the data-parallel world size from its comm layer; state it without a process group."""
    import deepspeed.runtime.config as ds_config

    def set_world(size: int):
        monkeypatch.setattr(ds_config.dist, "get_rank", lambda *a, **k: 0)
        monkeypatch.setattr(ds_config.dist, "get_world_size", lambda *a, **k: size)

    return set_world


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_each_zero_stage_parses(deepspeed_world, stage):
    from deepspeed.runtime.config import DeepSpeedConfig

    deepspeed_world(1)
    job = SFTJob(model_path="unused", task="math", data_dir="unused", counts={"en": 1},
                 train=TrainSettings(engine="deepspeed", zero_stage=stage, global_batch=64, micro_batch=8, bf16=True))
    parsed = DeepSpeedConfig(deepspeed_config(job, accumulation_steps(job, 1)))
    assert parsed.zero_optimization_stage == stage
    assert (parsed.train_batch_size, parsed.train_micro_batch_size_per_gpu, parsed.gradient_accumulation_steps) == (64, 8, 8)
    assert parsed.bfloat16_config.enabled
    if stage == 3:
        assert parsed.zero_config.gather_16bit_weights_on_model_save  # the checkpoint gathers full weights


def test_the_220_run_studys_profiles_parse_at_their_world_sizes(deepspeed_world):
    from deepspeed.runtime.config import DeepSpeedConfig

    study = load_study("configs/english_not_all.yaml")
    seen = set()
    for trial in expand_trials(study):
        key = (trial.resources.workers, trial.train.zero_stage, trial.train.micro_batch)
        if trial.baseline or key in seen:
            continue
        seen.add(key)
        world = trial.resources.workers
        deepspeed_world(world)
        job = SFTJob(model_path=trial.model.path, task=trial.task, data_dir="unused", counts=trial.counts,
                     train=trial.train)
        parsed = DeepSpeedConfig(deepspeed_config(job, accumulation_steps(job, world)))
        assert parsed.train_batch_size == 512 == parsed.train_micro_batch_size_per_gpu * parsed.gradient_accumulation_steps * world
        assert parsed.zero_optimization_stage == trial.train.zero_stage
    assert seen == {(1, 2, 16), (4, 2, 8), (8, 3, 4)}
