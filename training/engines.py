"""One optimiser step per engine: DDP (Ray Train's ``prepare_model``; gloo on CPU, NCCL on GPU) or DeepSpeed ZeRO.

Both take a step's micro-batches with the step's target-token count across workers (training/batching.py) and
give each micro-batch the loss ``sum of its token losses / that count × workers``: DDP and DeepSpeed average
gradients over the workers, so the update is the mean over every target token of the global batch, whatever the
split into micro-batches and workers. The optimiser holds two parameter groups chosen by name (``decay_groups``).
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

# Parameters without weight decay, by name as transformers' Trainer chooses them: biases and normalisation weights.
NO_DECAY_PATTERNS = [r"bias", r"layernorm", r"rmsnorm", r"(?:^|\.)norm(?:$|\.)", r"_norm(?:$|\.)"]


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW parameter groups by parameter name and module type, never by shape: under ZeRO-3 every parameter is
    a 1-D placeholder, and choosing by ``ndim`` put every weight matrix in the no-decay group."""
    from transformers.trainer_pt_utils import get_parameter_names

    decay = set(get_parameter_names(model, [nn.LayerNorm], NO_DECAY_PATTERNS))
    named = list(model.named_parameters())
    return [{"params": [p for n, p in named if n in decay], "weight_decay": weight_decay},
            {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0}]


class DDPEngine:
    """Gradients all-reduced once per step (``no_sync`` on the other micro-batches), clipped at norm 1, then AdamW."""

    def __init__(self, model: nn.Module, wrapped: nn.Module, optimizer, scheduler, world_size: int, bf16: bool, device):
        """``wrapped``: ``model`` as the workers share it (Ray Train's ``prepare_model``: DistributedDataParallel when
        there are several workers, the model itself when there is one)."""
        self.module, self.model, self.optimizer, self.scheduler = model, wrapped, optimizer, scheduler
        self.world_size = world_size
        self.autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)

    def step(self, micro_batches: list[dict], targets: torch.Tensor) -> float:
        """One optimiser step; returns the sum of this worker's target-token losses."""
        total = 0.0
        for index, batch in enumerate(micro_batches):
            last = index == len(micro_batches) - 1
            sync = contextlib.nullcontext() if last or not hasattr(self.model, "no_sync") else self.model.no_sync()
            with sync:
                with self.autocast:
                    loss = self.model(**batch, num_items_in_batch=targets).loss
                (loss * self.world_size).backward()
            total += loss.item() * float(targets)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return total

    def train(self) -> None:
        self.model.train()

    def lr(self) -> float:
        return self.scheduler.get_last_lr()[0]

    def optimizer_state(self) -> dict:
        """AdamW's moments and step counts (the same on every worker: DDP keeps the replicas in step)."""
        return self.optimizer.state_dict()

    def load_optimizer_state(self, state: dict) -> None:
        self.optimizer.load_state_dict(state)  # (moves each tensor to its parameter's device)


class DeepSpeedEngine:
    """DeepSpeed's engine with the step's token count as the loss denominator (its own division by the
    accumulation steps is turned off); it reduces, clips (its config's ``gradient_clipping``) and updates at the
    accumulation boundary, which every step's fixed number of micro-batches reaches."""

    def __init__(self, model: nn.Module, optimizer, scheduler, world_size: int, config: dict):
        import deepspeed

        self.engine, self.optimizer, _, self.scheduler = deepspeed.initialize(
            model=model, optimizer=optimizer, lr_scheduler=scheduler, config=config)
        self.module, self.world_size = self.engine.module, world_size

    def step(self, micro_batches: list[dict], targets: torch.Tensor) -> float:
        total = 0.0
        for batch in micro_batches:
            loss = self.engine(**batch, num_items_in_batch=targets).loss
            self.engine.backward(loss * self.world_size, scale_wrt_gas=False)
            self.engine.step()  # an update (and a scheduler step) at the accumulation boundary only
            total += loss.item() * float(targets)
        return total

    def train(self) -> None:
        self.engine.train()

    def lr(self) -> float:
        return self.scheduler.get_last_lr()[0]

    def optimizer_state(self) -> None:
        """None: ZeRO partitions AdamW's moments across the ranks, and a checkpoint is written by rank 0 alone; a
        resumed DeepSpeed run restarts the moments at its epoch (its weights and schedule continue)."""
        return None

    def load_optimizer_state(self, state: dict) -> None:
        raise NotImplementedError("a DeepSpeed checkpoint carries no optimizer state")

    def consolidated_state_dict(self):
        """ZeRO-3: the full weights gathered from every rank (a collective: every rank calls it)."""
        return self.engine._zero3_consolidated_16bit_state_dict()
