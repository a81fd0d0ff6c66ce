"""Training settings: the one definition of each setting, its default and its limits.

A study's ``train:`` section (``TrainConfig`` in search/study/sections.py) and the job a Ray Train worker runs
(training/sft.py's ``SFTJob.train``) are this model, so a default cannot differ between them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TrainSettings(BaseModel):
    # as search/study/sections.py's Frozen (training imports nothing from search): a typo in a study is an error, not a default
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    epochs: int = Field(3, ge=1, le=1000)
    lr: float = Field(1e-5, gt=0)
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    global_batch: int = Field(512, ge=1, le=2**20)
    micro_batch: int = Field(8, ge=1, le=2**20)
    max_seq_len: int = Field(512, ge=8, le=2**20)
    engine: Literal["ddp", "deepspeed"] = "ddp"
    zero_stage: Literal[0, 1, 2, 3] = 1
    bf16: bool = False
    gradient_checkpointing: bool = False
    schedule: Literal["cosine", "constant"] = "cosine"  # after warmup (docs/studies.md §1a: cosine; §1b: constant)
    select_by: Literal["val_acc", "val_loss"] = "val_acc"  # the kept checkpoint (§1a: accuracy; §1b: loss)
    validation_examples: int | None = Field(None, ge=1)  # per language, for per-epoch validation; None = all

    @model_validator(mode="after")
    def _batches(self):
        if self.global_batch % self.micro_batch:
            raise ValueError(f"global_batch={self.global_batch} must be a multiple of micro_batch={self.micro_batch}")
        return self
