"""Batched greedy decoding with the task's budget and stop criteria.

A sequence ends at end-of-sequence, at one of the task's stop strings (the start of a new question or turn in its
prompt format, as evaluation harnesses stop a base model that would go on writing), or when it has used the
budget. Each completion says which (``finish``: ``eos``, ``stop`` or ``length``) and how many tokens it generated,
so a budget that cuts answers short shows in the predictions instead of silently lowering a score.
"""

from __future__ import annotations

import inspect
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


@dataclass
class DecodeStats:
    """Positions a generation computed, and how many of them were useful: a prompt's own tokens in the prompt
    pass, and each token a still-running answer generates. The rest is padding and finished rows. The prompt pass
    is counted apart too: its left padding costs one parallel pass per batch, a finished row kept in the batch costs
    every later decoding step."""

    computed: int = 0
    useful: int = 0
    generated: int = 0
    prompt_computed: int = 0
    prompt_useful: int = 0

    @property
    def wasted_share(self) -> float:
        return 1 - self.useful / self.computed if self.computed else 0.0

    @property
    def prompt_padding_share(self) -> float:
        return 1 - self.prompt_useful / self.prompt_computed if self.prompt_computed else 0.0

    @property
    def decoding_wasted_share(self) -> float:
        """Finished (or padded) rows' share of the positions computed by the decoding steps, the prompt pass left out."""
        steps = self.computed - self.prompt_computed
        return 1 - (self.useful - self.prompt_useful) / steps if steps else 0.0

    def count_prompts(self, mask: torch.Tensor) -> None:
        positions, own = mask.numel(), int(mask.sum())
        self.computed, self.prompt_computed = self.computed + positions, self.prompt_computed + positions
        self.useful, self.prompt_useful = self.useful + own, self.prompt_useful + own


def _stopped(ids: list[int], tokenizer, stop: tuple[str, ...], window: int) -> bool:
    """Whether the answer's last tokens complete a stop string (checked after every token, so the string can
    only have appeared within the last ``window`` tokens: no token is shorter than one byte, while a character may
    take several tokens, as byte-level BPE cuts a character it has no entry for into its UTF-8 bytes)."""
    return any(s in tokenizer.decode(ids[-window:], skip_special_tokens=True) for s in stop)


def _ended(ids: list[int], tokenizer, stop: tuple[str, ...], budget: int) -> Generation | None:
    """The answer so far as a finished Generation, or None while it runs on."""
    if ids[-1] == tokenizer.eos_token_id:
        return Generation(_cut_at_stop(tokenizer.decode(ids[:-1], skip_special_tokens=True), stop)[0], len(ids), "eos")
    if stop and _stopped(ids, tokenizer, stop, max(len(s.encode("utf-8")) for s in stop) + 2):
        return Generation(_cut_at_stop(tokenizer.decode(ids, skip_special_tokens=True), stop)[0], len(ids), "stop")
    if len(ids) == budget:
        return Generation(_cut_at_stop(tokenizer.decode(ids, skip_special_tokens=True), stop)[0], len(ids), "length")
    return None


def _cache_argument(model) -> str:
    """The name under which the model takes its KV cache: ``cache`` from transformers 5.x on, ``past_key_values``
    before (still accepted, deprecated)."""
    for cls in type(model).__mro__:  # (the first forward that names its cache: a subclass may take **kwargs)
        parameters = inspect.signature(vars(cls)["forward"]).parameters if "forward" in vars(cls) else {}
        if "cache" in parameters or "past_key_values" in parameters:
            return "cache" if "cache" in parameters else "past_key_values"
    return "past_key_values"


def _cache_of(output):
    cache = output.get("cache")
    return cache if cache is not None else output.get("past_key_values")


@torch.no_grad()
def _decode(model, tokenizer, prompts: list[str], budget: int, stop: tuple[str, ...], stats: DecodeStats) -> list[Generation]:
    """Greedy decoding of one batch whose rows leave it as they finish: every step computes the running answers
    only (their KV cache rows selected), instead of the whole batch until its longest answer ends."""
    batch = tokenizer(prompts, return_tensors="pt", padding=True).to(model.device)
    mask = batch["attention_mask"]
    stats.count_prompts(mask)
    # Left padding: a row's positions count its own tokens only, as generate() numbers them.
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=batch["input_ids"], attention_mask=mask, position_ids=positions, use_cache=True)
    cache, rows, cache_argument = _cache_of(out), list(range(len(prompts))), _cache_argument(model)
    answers: list[list[int]] = [[] for _ in prompts]
    done: list[Generation | None] = [None] * len(prompts)
    while True:
        tokens = out.logits[:, -1, :].argmax(-1)
        stats.generated += len(rows)
        keep = []
        for slot, (row, token) in enumerate(zip(rows, tokens.tolist())):
            answers[row].append(token)
            done[row] = _ended(answers[row], tokenizer, stop, budget)
            if done[row] is None:
                keep.append(slot)
        if not keep:
            return done
        if len(keep) < len(rows):
            index = torch.tensor(keep, device=mask.device)
            cache.batch_select_indices(index)
            mask, tokens, rows = mask[index], tokens[index], [rows[slot] for slot in keep]
        mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=-1)
        stats.computed += len(rows)
        stats.useful += len(rows)
        out = model(input_ids=tokens[:, None], attention_mask=mask, position_ids=mask.long().sum(-1, keepdim=True) - 1,
                    use_cache=True, **{cache_argument: cache})


def _generate_batch(model, tokenizer, prompts: list[str], budget: int, stop: tuple[str, ...],
                    stats: DecodeStats) -> list[Generation]:
    """transformers' generate(): under ZeRO-3, where every rank must run every forward pass in step (its
    ``synced_gpus``), since each gathers the parameters from all ranks."""
    batch = tokenizer(prompts, return_tensors="pt", padding=True).to(model.device)
    output = model.generate(
        **batch, max_new_tokens=budget, do_sample=False, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id, **({"stop_strings": list(stop), "tokenizer": tokenizer} if stop else {}),
    )
    new = output[:, batch["input_ids"].shape[1] :]
    stats.count_prompts(batch["attention_mask"])
    stats.computed += new.numel()
    completions = [_finished(ids, tokenizer, stop) for ids in new.tolist()]
    stats.useful += sum(c.tokens for c in completions)
    stats.generated += sum(c.tokens for c in completions)
    return completions


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_size: int = 64,
             stop: tuple[str, ...] = (), stats: DecodeStats | None = None) -> list[Generation]:
    """Greedy completions for ``prompts``, in order. Prompts are batched by their token length (little padding),
    and a batch drops each row as it finishes (little work on finished answers); ``stats`` counts both."""
    from transformers.integrations.deepspeed import is_deepspeed_zero3_enabled

    tokenizer.padding_side = "left"  # decoder-only generation continues from the right edge
    was_training = model.training
    model.eval()
    stats = stats if stats is not None else DecodeStats()
    decode = _generate_batch if is_deepspeed_zero3_enabled() else _decode
    lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=True).input_ids] if prompts else []
    order = sorted(range(len(prompts)), key=lambda i: lengths[i])
    completions: list[Generation | None] = [None] * len(prompts)
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        for i, completion in zip(indices, decode(model, tokenizer, [prompts[i] for i in indices], max_new_tokens, stop, stats)):
            completions[i] = completion
    model.train(was_training)
    return completions
