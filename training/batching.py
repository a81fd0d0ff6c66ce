"""Global batches for SFT: every example once per epoch, every target token the same weight.

An epoch is a permutation of the mixture (seeded by the run's seed and the epoch, so a resumed epoch sees the
order the uninterrupted one would) cut into optimiser steps of ``global_batch`` examples, the last step smaller.
Each step's examples are sorted by length, longest first, and cut into micro-batches, dealt to the workers in turn
(``accumulation`` each): a micro-batch pads to its longest example, so examples of similar lengths together pad
least (the realistic fixtures' math rows, global batch 64 in micro-batches of 8: 12.8% of the tokens were padding
shuffled, 3.3% sorted; benchmarks/padding.py). Sorting inside the step leaves the update as it was, since a step's
loss is one sum over all its target tokens (below); sorting across steps (grouping whole steps by length) would
not, and would fill steps with one language, which tokenise to very different lengths, so polymix does not.
A worker whose share runs out (the last, smaller step) gets empty micro-batches,
collated as one fully masked token: every worker makes the same number of forward and backward passes per step,
which DDP's and DeepSpeed's collectives need, and an empty micro-batch adds nothing to the gradient.

The loss of a step is the sum of its target tokens' losses divided by the number of target tokens in the whole
step, across micro-batches and workers (``step_target_tokens``). Averaging each micro-batch's mean instead would
weigh a micro-batch of short answers as much as one of long ones, and languages tokenise to very different
lengths, which is the comparison a study makes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

IGNORE = -100  # label of a token that is not a target (prompt, padding): HF's ignore_index


class GlobalBatchSampler(Sampler[list[int]]):
    """Index lists of one worker's micro-batches: ``accumulation`` per optimiser step, in step order. With the
    examples' token ``lengths``, each step's micro-batches hold examples of similar lengths."""

    def __init__(self, examples: int, global_batch: int, micro_batch: int, world_size: int = 1, rank: int = 0,
                 seed: int = 0, lengths: Sequence[int] | None = None):
        if global_batch % (micro_batch * world_size):
            raise ValueError(f"global_batch={global_batch} is not a multiple of micro_batch×workers={micro_batch * world_size}")
        self.examples, self.global_batch, self.micro_batch = examples, global_batch, micro_batch
        self.world_size, self.rank, self.seed, self.epoch = world_size, rank, seed, 1
        self.lengths = lengths
        self.accumulation = global_batch // (micro_batch * world_size)

    @property
    def steps(self) -> int:
        """Optimiser steps per epoch: the last holds what is left over."""
        return math.ceil(self.examples / self.global_batch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.steps * self.accumulation

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(self.examples, generator=torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch))
        for start in range(0, self.examples, self.global_batch):
            step = order[start : start + self.global_batch].tolist()
            if self.lengths is None:
                share = step[self.rank :: self.world_size]
                yield from (share[micro * self.micro_batch : (micro + 1) * self.micro_batch] for micro in range(self.accumulation))
                continue
            step.sort(key=lambda index: -self.lengths[index])  # (stable: equal lengths keep the shuffled order)
            micro_batches = [step[k * self.micro_batch : (k + 1) * self.micro_batch]
                             for k in range(self.world_size * self.accumulation)]
            yield from micro_batches[self.rank :: self.world_size]


def make_collate(pad_token_id: int, supervised_logits: bool = False):
    """Right-padded tensors of a micro-batch; an empty one is a single masked pad token (it trains nothing).

    With ``supervised_logits`` the batch also names the positions that predict a target token (``logits_to_keep``:
    a boolean mask, which transformers' causal LMs accept) and those targets in the same order (``shift_labels``):
    the output head and the loss then run on these positions only. The loss is the same sum over the same target
    tokens, but the logits of prompt and padding positions, which the loss ignores, are not computed: on the sample
    data that is about half of the positions, and a vocabulary of 150-260 K entries makes the output head a large
    share of a small model's compute and of the activation memory (``tests/training/test_global_batches.py``).
    """

    def collate(rows: list[dict]) -> dict[str, torch.Tensor]:
        if not rows:
            batch = {"input_ids": torch.full((1, 1), pad_token_id), "labels": torch.full((1, 1), IGNORE),
                     "attention_mask": torch.ones((1, 1), dtype=torch.long)}
        else:
            width = max(len(row["input_ids"]) for row in rows)
            input_ids = torch.full((len(rows), width), pad_token_id)
            labels = torch.full((len(rows), width), IGNORE)
            attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
            for i, row in enumerate(rows):
                n = len(row["input_ids"])
                input_ids[i, :n] = torch.tensor(row["input_ids"])
                labels[i, :n] = torch.tensor(row["labels"])
                attention_mask[i, :n] = 1
            batch = {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}
        if supervised_logits:
            next_is_target = batch["labels"][:, 1:] != IGNORE  # position t predicts token t + 1
            keep = torch.zeros_like(batch["labels"], dtype=torch.bool)
            keep[:, :-1] = next_is_target
            batch.update(logits_to_keep=keep, shift_labels=batch["labels"][:, 1:][next_is_target])
        return batch

    return collate


def target_tokens(batch: dict[str, torch.Tensor]) -> int:
    """Tokens the loss is computed on: labels shifted by one (a causal LM predicts the next token), as HF's loss."""
    return int((batch["labels"][:, 1:] != IGNORE).sum())


def step_target_tokens(micro_batches: list[dict[str, torch.Tensor]], device) -> torch.Tensor:
    """Target tokens of one optimiser step on every worker together (all-reduced when there are several)."""
    count = torch.tensor(sum(target_tokens(batch) for batch in micro_batches), device=device, dtype=torch.long)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(count)
    return count.clamp(min=1)  # (a step of prompts without targets adds nothing either way)
