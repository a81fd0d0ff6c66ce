"""Every example once per epoch, and one update per global batch whatever its split into micro-batches and workers.

The update is checked for real: the same 32 examples (targets of 2 to 40 tokens, as short English and long Bengali
answers differ) go through DDP and DeepSpeed ZeRO-1 as 1×32, 4×8 and 2 workers × 2 × 8, each in its own gloo
process group, and every resulting weight must equal the single-batch reference update.
"""

import os

import pytest
import torch
import torch.multiprocessing as mp
from transformers import Qwen3ForCausalLM

from tests.ports import free_port
from training.batching import IGNORE, GlobalBatchSampler, make_collate
from training.engines import DDPEngine, DeepSpeedEngine, decay_groups
from training.models import TINY_SIZES, qwen3_config

LR, PAD = 0.5, 0


def sampled(examples, global_batch, micro_batch, world_size, seed=0, epoch=1, lengths=None):
    samplers = [GlobalBatchSampler(examples, global_batch, micro_batch, world_size, rank, seed, lengths)
                for rank in range(world_size)]
    for sampler in samplers:
        sampler.set_epoch(epoch)
    return [list(sampler) for sampler in samplers]


def test_every_example_is_seen_once_per_epoch_with_a_last_smaller_step():
    """3,024 examples (the English-only API run) in global batches of 512 over 2 workers: 6 steps, the last of 464,
    where drop_last and whole-step truncation trained on 2,560."""
    per_rank = sampled(3024, 512, 64, 2)
    assert all(len(batches) == 6 * 4 for batches in per_rank)  # 6 steps × 4 micro-batches on each worker
    seen = [i for batches in per_rank for batch in batches for i in batch]
    assert sorted(seen) == list(range(3024))
    last_step = [i for batches in per_rank for batch in batches[-4:] for i in batch]
    assert len(last_step) == 3024 - 5 * 512 == 464
    assert [len(batch) for batch in per_rank[0][-4:]] == [64, 64, 64, 40]  # (232 of the 464 on each worker)


def test_length_sorted_steps_hold_the_same_examples_in_micro_batches_of_similar_lengths():
    """Each step's examples, sorted by length inside the step: the same examples per step and per epoch as shuffled,
    as many micro-batches on every worker, and less padding."""
    lengths = [int(n) for n in torch.randint(10, 400, (3024,), generator=torch.Generator().manual_seed(1))]
    shuffled, by_length = sampled(3024, 512, 64, 2), sampled(3024, 512, 64, 2, lengths=lengths)
    assert [len(batches) for batches in by_length] == [24, 24]
    def in_step(per_rank, step):
        return sorted(i for batches in per_rank for batch in batches[step * 4:(step + 1) * 4] for i in batch)
    assert all(in_step(by_length, step) == in_step(shuffled, step) for step in range(6))
    widths = [max(lengths[i] for i in batch) for batches in by_length for batch in batches]
    within = [all(lengths[i] >= lengths[j] for i in a for j in b) for a, b in zip(by_length[0], by_length[1])]
    assert all(within[:20])  # worker 0 holds each step's longer half of a pair of micro-batches (full steps)

    def padded(per_rank):
        batches = [batch for batches in per_rank for batch in batches if batch]
        return 1 - sum(lengths[i] for b in batches for i in b) / sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded(by_length) < padded(shuffled) / 3 and len(widths) == 48  # (uniform lengths: 10% against 47%)


def test_the_order_follows_the_seed_and_the_epoch_and_a_resumed_epoch_repeats_it():
    assert sampled(100, 32, 8, 2, seed=0) == sampled(100, 32, 8, 2, seed=0)
    assert sampled(100, 32, 8, 2, seed=0) != sampled(100, 32, 8, 2, seed=1)  # the study's seed, not 0
    assert sampled(100, 32, 8, 2, epoch=1) != sampled(100, 32, 8, 2, epoch=2)


def test_an_empty_micro_batch_collates_to_one_masked_token():
    batch = make_collate(PAD)([])
    assert batch["labels"].tolist() == [[IGNORE]] and batch["input_ids"].shape == (1, 1)


def test_logits_at_the_target_positions_only_give_the_loss_and_gradients_of_all_logits():
    """The output head on the positions that predict a target (training's batches) against HF's loss over every
    position: the same loss and the same gradients, from a head that saw only the targets' rows; an empty
    micro-batch adds a zero loss and zero gradients."""
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(qwen3_config(TINY_SIZES["s"], vocab_size=300, pad_token_id=PAD))
    rows = examples()[:8]
    full, selected = make_collate(PAD)(rows), make_collate(PAD, supervised_logits=True)(rows)
    n_targets = torch.tensor(int((full["labels"][:, 1:] != IGNORE).sum()))
    assert selected["logits_to_keep"].sum() == selected["shift_labels"].numel() == n_targets < full["labels"].numel()

    def loss_and_grads(batch):
        model.zero_grad()
        output = model(**batch, num_items_in_batch=n_targets)
        output.loss.backward()
        return output, {n: p.grad.clone() for n, p in model.named_parameters()}

    (full_out, full_grads), (sel_out, sel_grads) = loss_and_grads(full), loss_and_grads(selected)
    assert sel_out.logits.shape == (n_targets, 300) and full_out.logits.shape[:2] == full["labels"].shape
    assert torch.allclose(sel_out.loss, full_out.loss, atol=1e-6)
    assert all(torch.allclose(sel_grads[n], full_grads[n], atol=1e-6) for n in full_grads)

    empty_out, empty_grads = loss_and_grads(make_collate(PAD, supervised_logits=True)([]))
    assert empty_out.loss.item() == 0.0 and all(not g.any() for g in empty_grads.values())


def test_weight_decay_groups_are_chosen_by_name_also_for_zero3_placeholders():
    model = Qwen3ForCausalLM(qwen3_config(TINY_SIZES["s"], vocab_size=300))
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = lambda groups: sorted(names[id(p)] for p in groups[0]["params"])  # noqa: E731
    before = decayed(decay_groups(model, 0.01))
    assert "model.layers.0.self_attn.q_proj.weight" in before and "model.layers.0.mlp.down_proj.weight" in before
    assert not any(n.endswith(("norm.weight", "bias")) for n in before)
    for parameter in model.parameters():  # what ZeRO-3 leaves in the module: empty 1-D placeholders
        parameter.data = torch.empty(0)
    assert decayed(decay_groups(model, 0.01)) == before


# ------------------------------------------------------------------------------- the update, for real
def examples(n=32):
    generator = torch.Generator().manual_seed(0)
    rows = []
    for i in range(n):
        prompt = torch.randint(5, 300, (int(torch.randint(3, 12, (1,), generator=generator)),), generator=generator).tolist()
        target = torch.randint(5, 300, (2 + (i * 7) % 39,), generator=generator).tolist()
        rows.append({"input_ids": prompt + target, "labels": [IGNORE] * len(prompt) + target})
    return rows


def engine_updates(rank, world_size, cases, model_dir, port, out_dir):
    """For each (engine, micro-batch) case, one optimiser step from the same weights on this worker's share of the 32
    examples; rank 0 saves the weights after it."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world_size))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world_size)
    from training.batching import step_target_tokens

    for engine_kind, micro_batch in cases:
        model = Qwen3ForCausalLM.from_pretrained(model_dir)
        rows = examples()
        # (length-sorted micro-batches, as training uses them: the update must not depend on the split)
        sampler = GlobalBatchSampler(len(rows), 32, micro_batch, world_size, rank, seed=0,
                                     lengths=[len(row["input_ids"]) for row in rows])
        # (with logits at the target positions only, as training computes them; the reference computes them all)
        micro_batches = [make_collate(PAD, supervised_logits=True)([rows[i] for i in indices]) for indices in sampler]
        optimizer = torch.optim.SGD(model.parameters(), lr=LR)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        if engine_kind == "deepspeed":
            config = {"train_batch_size": 32, "train_micro_batch_size_per_gpu": micro_batch,
                      "gradient_accumulation_steps": sampler.accumulation, "zero_optimization": {"stage": 1},
                      "gradient_clipping": 1.0, "steps_per_print": 10**6, "zero_allow_untested_optimizer": True}
            engine = DeepSpeedEngine(model, optimizer, scheduler, world_size, config)
        else:
            wrapped = torch.nn.parallel.DistributedDataParallel(model) if world_size > 1 else model
            engine = DDPEngine(model, wrapped, optimizer, scheduler, world_size, False, torch.device("cpu"))
        engine.step(micro_batches, step_target_tokens(micro_batches, torch.device("cpu")))
        if rank == 0:
            torch.save({n: p.detach().clone() for n, p in engine.module.named_parameters()},
                       os.path.join(out_dir, f"{engine_kind}-{world_size}x{micro_batch}.pt"))
    torch.distributed.destroy_process_group()



@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The model, and its weights after one clipped SGD step on the mean loss over all 32 examples' target tokens."""
    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(qwen3_config(TINY_SIZES["s"], vocab_size=300, pad_token_id=PAD))
    model.save_pretrained(folder)
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    model(**make_collate(PAD)(examples())).loss.backward()  # HF's mean over every target token of the batch
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    torch.optim.SGD(model.parameters(), lr=LR).step()
    return folder, start, {n: p.detach().clone() for n, p in model.named_parameters()}


@pytest.fixture(scope="module")
def updates(reference, tmp_path_factory):
    """Every split's weights after its step: one process for the 1-worker splits, one group of 2 for the others."""
    folder, out = reference[0], tmp_path_factory.mktemp("updates")
    for world_size, cases in ((1, [("ddp", 32), ("ddp", 8), ("deepspeed", 32), ("deepspeed", 8)]),
                              (2, [("ddp", 8), ("deepspeed", 8)])):
        mp.spawn(engine_updates, args=(world_size, cases, str(folder), free_port(), str(out)), nprocs=world_size)
    return out


def distance(a: dict, b: dict) -> float:
    return float(torch.sqrt(sum(((a[n] - b[n]) ** 2).sum() for n in a)))


@pytest.mark.parametrize("engine_kind", ["ddp", "deepspeed"])
@pytest.mark.parametrize("world_size, micro_batch", [(1, 32), (1, 8), (2, 8)])
def test_one_update_per_global_batch_whatever_its_split(reference, updates, engine_kind, world_size, micro_batch):
    """1×32, 4 micro-batches of 8, and 2 workers × 2 × 8 reach the single-batch update, on both engines."""
    _, start, expected = reference
    updated = torch.load(updates / f"{engine_kind}-{world_size}x{micro_batch}.pt")
    assert distance(updated, expected) < 1e-4 * distance(expected, start)
def test_averaging_micro_batch_means_would_have_changed_the_update(reference):
    """The former weighting (each micro-batch's mean / accumulation steps) on the same 4×8 split: a real difference,
    so the equalities above are not met by any weighting."""
    folder, start, expected = reference
    model = Qwen3ForCausalLM.from_pretrained(folder)
    rows = examples()
    for micro in range(4):
        (model(**make_collate(PAD)(rows[micro * 8 : (micro + 1) * 8])).loss / 4).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    torch.optim.SGD(model.parameters(), lr=LR).step()
    former = {n: p.detach().clone() for n, p in model.named_parameters()}
    assert distance(former, expected) > 0.01 * distance(expected, start)
