"""Batched greedy decoding with the task's budget and stop criteria.

A sequence ends at end-of-sequence, at one of the task's stop strings (the start of a new question or turn in its
prompt format, as evaluation harnesses stop a base model that would go on writing), or when it has used the
budget. Each completion says which (``finish``: ``eos``, ``stop`` or ``length``) and how many tokens it generated,
so a budget that cuts answers short shows in the predictions instead of silently lowering a score.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Generation:
    text: str  # the completion, cut before the first stop string
    tokens: int  # tokens generated (the EOS or the stop string's last token included)
    finish: str  # "eos" | "stop" | "length"


def _cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    cut = min((index for index in (text.find(s) for s in stop) if index >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def _finished(ids: list[int], tokenizer, stop: tuple[str, ...]) -> Generation:
    """One generated row (right-padded by generate) → its completion, length and why it ended."""
    eos = tokenizer.eos_token_id
    end = ids.index(eos) if eos in ids else len(ids)
    text, stopped = _cut_at_stop(tokenizer.decode(ids[:end], skip_special_tokens=True), stop)
    if stopped:  # generate pads a row after its stop string (with EOS when that is the pad token)
        pad = tokenizer.pad_token_id
        return Generation(text, end if pad == eos else sum(1 for i in ids[:end] if i != pad), "stop")
    if end < len(ids):
        return Generation(text, end + 1, "eos")
    return Generation(text, len(ids), "length")  # (a row still running when generate returns has used the budget)


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_size: int = 64,
             stop: tuple[str, ...] = ()) -> list[Generation]:
    """Greedy completions for ``prompts``, in order. Prompts are batched by length to waste little padding."""
    tokenizer.padding_side = "left"  # decoder-only generation continues from the right edge
    was_training = model.training
    model.eval()
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    completions: list[Generation | None] = [None] * len(prompts)
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        batch = tokenizer([prompts[i] for i in indices], return_tensors="pt", padding=True).to(model.device)
        output = model.generate(
            **batch, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id, **({"stop_strings": list(stop), "tokenizer": tokenizer} if stop else {}),
        )
        for i, ids in zip(indices, output[:, batch["input_ids"].shape[1] :].tolist()):
            completions[i] = _finished(ids, tokenizer, stop)
    model.train(was_training)
    return completions
