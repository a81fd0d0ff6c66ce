"""Supervised fine-tuning: the per-worker loop, run by Ray Train's TorchTrainer on each worker (``train_loop``) or, for
a one-CPU-worker job, in the trial's own process (``run_sft`` with a ``LocalSession``: training/session.py).

Reads top to bottom: build the mixture → tokenise (loss on target tokens only) → global batches that hold every
example once per epoch (training/batching.py) → DDP or DeepSpeed (training/engines.py), the loss of each step
normalised by its target tokens across micro-batches and workers → AdamW (weight decay by parameter name) + cosine
(or constant) schedule with warmup → after every epoch,
per-language validation loss and accuracy (by generation, through an injected validator) on the
mixture's languages or the ones a search names (``validation_languages``), plus ``val/objective`` =
Σ w·loss when a search gives weights → report a checkpoint; Ray keeps the one with the best average
validation accuracy (docs/studies.md §1a), or the lowest average validation loss (``select_by: val_loss``, docs/studies.md §1b),
or in a ratio search the lowest ``val/objective``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import torch
from torch.utils.data import DataLoader
from transformers import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup

from training.batching import GlobalBatchSampler, make_collate, step_target_tokens, target_tokens
from training.engines import DDPEngine, DeepSpeedEngine, decay_groups
from training.errors import ConfigError, DataError
from training.mixture import build_mixture
from training.models import keeps_selected_logits, load_model, load_tokenizer
from training.session import CheckpointWriter, RayTrainSession
from training.settings import TrainSettings
from training.sources import load_parallel
from training.tasks import get_task

SELECTION_METRIC = "val/selection_score"
DEEPSPEED_CONFIGS = Path(__file__).parent / "deepspeed"
OPTIMIZER_FILE = "optimizer.pt"  # AdamW's state in a checkpoint (DDP runs), for an exact resume

# validator(model, tokenizer, task, {lang: validation rows}) → {lang: accuracy}
Validator = Callable[[torch.nn.Module, object, str, dict[str, datasets.Dataset]], dict[str, float]]


@dataclass(frozen=True)
class SFTJob:
    """One run: the model, its data and seed, what it validates, and its training settings (``train``)."""

    model_path: str
    task: str
    data_dir: str
    counts: dict[str, int]
    seed: int = 0
    train: TrainSettings = field(default_factory=TrainSettings)
    # Languages validated every epoch; None = the trained ones. A ratio search validates every language it
    # searches over, trained or not: how a mixture moves the loss of a language it leaves out is the transfer.
    validation_languages: list[str] | None = None
    # Importance weights of the ratio search's objective Σ w_i · val loss_i, reported every epoch as
    # val/objective (the metric early stopping watches); None when the trial is not part of a search.
    objective_weights: dict[str, float] | None = None
    # A multi-task run: examples per language of each task (``task`` and ``counts`` then name the whole run).
    task_counts: dict[str, dict[str, int]] | None = None
    # Disjoint content: the languages that split the problems among them, each taking its own block; None: parallel.
    content_pool: list[str] | None = None

    def record(self) -> dict:
        """The job as its checkpoint records it (polymix_job.json): one flat mapping, the settings in place of
        ``train``, so the file reads as it did when the settings were the job's own fields."""
        record = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            record.update(value.model_dump() if name == "train" else {name: value})
        return record

    def per_task(self) -> dict[str, dict[str, int]]:
        return self.task_counts or {self.task: self.counts}

    def metric(self, kind: str, task: str, lang: str) -> str:
        """``val/loss/<lang>`` in a single-task run; ``val/<task>/loss/<lang>`` in a multi-task one."""
        return f"val/{task}/{kind}/{lang}" if self.task_counts else f"val/{kind}/{lang}"


def train_loop(config: dict) -> None:
    """Ray Train entry point: ``config = {"job": SFTJob, "validator": Validator}``."""
    run_sft(config["job"], config["validator"], RayTrainSession())


def run_sft(job: SFTJob, validator: Validator, session) -> None:
    """The whole run on one worker of ``session`` (training/session.py: a Ray Train worker, or this process)."""
    rank, world_size, device = session.rank, session.world_size, session.device
    torch.manual_seed(job.seed)

    accumulation = accumulation_steps(job, world_size)
    ds_config = deepspeed_config(job, accumulation) if job.train.engine == "deepspeed" else None
    zero3 = ds_config is not None and job.train.zero_stage == 3
    partitioned = partitioned_loading(ds_config) if zero3 else None  # noqa: F841 (kept alive on purpose)
    model, first_epoch, optimizer_state = load_for_training(job, device, session)
    tokenizer = load_tokenizer(job.model_path)
    train_rows, too_long = tokenized_mixture(job, tokenizer)
    validation = validation_rows(job)

    sampler = GlobalBatchSampler(len(train_rows), job.train.global_batch, job.train.micro_batch, world_size, rank, job.seed,
                                 lengths=[len(ids) for ids in train_rows["input_ids"]])
    loader = DataLoader(train_rows, batch_sampler=sampler,
                        collate_fn=make_collate(tokenizer.pad_token_id, keeps_selected_logits(model)))
    engine = make_engine(job, model, ds_config, sampler.steps, first_epoch, world_size, device, session)
    if optimizer_state is not None:
        engine.load_optimizer_state(optimizer_state)

    engine.train()
    for epoch in range(first_epoch, job.train.epochs + 1):
        sampler.set_epoch(epoch)
        metrics = {"epoch": epoch, **train_epoch(engine, loader, accumulation, device), "train/lr": engine.lr(),
                   # 0 for a run trained from the start; else the epoch whose checkpoint a restart resumed from
                   "train/resumed_from_epoch": first_epoch - 1,
                   "train/too_long_dropped": too_long}
        validated, checkpoint = validate_and_checkpoint(job, engine, tokenizer, validator, validation, epoch, rank, zero3)
        session.report({**metrics, **validated}, checkpoint, f"epoch_{epoch:03d}")


def accumulation_steps(job: SFTJob, world_size: int) -> int:
    per_step = job.train.micro_batch * world_size
    if job.train.global_batch % per_step:
        raise ConfigError(f"train.global_batch={job.train.global_batch} is not a multiple of micro_batch×workers={per_step}; change one of them")
    return job.train.global_batch // per_step


def deepspeed_config(job: SFTJob, accumulation: int) -> dict:
    config = json.loads((DEEPSPEED_CONFIGS / f"zero{max(job.train.zero_stage, 1)}.json").read_text())
    config["zero_optimization"]["stage"] = job.train.zero_stage
    config.update(
        train_batch_size=job.train.global_batch,
        train_micro_batch_size_per_gpu=job.train.micro_batch,
        gradient_accumulation_steps=accumulation,
        bf16={"enabled": job.train.bf16},
    )
    return config


def partitioned_loading(ds_config: dict):
    """ZeRO-3: must exist, and stay referenced, before from_pretrained: transformers then loads the weights already
    partitioned (zero.Init), and generate() keeps every rank in step while gathering parameters."""
    from transformers.integrations import HfDeepSpeedConfig

    return HfDeepSpeedConfig(ds_config)


def load_for_training(job: SFTJob, device, session):
    """The model to train, the first epoch to run and the optimiser state to continue from (None: a fresh AdamW).

    A restarted run (worker failure, resubmitted sweep) continues after its last reported epoch: its weights, the
    AdamW moments its checkpoint carries (DDP; a DeepSpeed checkpoint carries none) and its schedule, which
    make_schedule puts where it left off; the epochs' example order is seeded by epoch. So a resumed DDP run trains
    as the uninterrupted run would have."""
    with session.restored() as checkpoint_dir:
        if checkpoint_dir is None:
            return load_model(job.model_path, gradient_checkpointing=job.train.gradient_checkpointing).to(device), 1, None
        epoch = json.loads((Path(checkpoint_dir) / "polymix_job.json").read_text())["epoch"]
        model = load_model(checkpoint_dir, gradient_checkpointing=job.train.gradient_checkpointing).to(device)
        optimizer_file = Path(checkpoint_dir) / OPTIMIZER_FILE
        state = torch.load(optimizer_file, map_location="cpu", weights_only=True) if optimizer_file.is_file() else None
        return model, epoch + 1, state


def tokenize(tokenizer, prompt: str, target: str, max_seq_len: int) -> dict[str, list[int]] | None:
    """Prompt tokens are masked out of the loss (label -100); the target ends with EOS and is never cut: trained on
    cut targets, a model never learns to stop (a long chain of thought would run to the budget).

    Too long: the prompt loses its middle, keeping the instruction before it and the cue after it, down to a quarter
    of ``max_seq_len``. A target that leaves less room than that makes the example unusable: None, which the caller
    drops and counts. A prompt that fits keeps every token."""
    prompt_ids = tokenizer(prompt).input_ids  # with the model's own BOS if it uses one, as at generation
    target_ids = tokenizer(target, add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
    budget = max_seq_len - len(target_ids)
    if budget < min(len(prompt_ids), max_seq_len // 4):
        return None
    if len(prompt_ids) > budget:
        head = budget // 4
        prompt_ids = prompt_ids[:head] + prompt_ids[len(prompt_ids) - (budget - head):]
    return {"input_ids": prompt_ids + target_ids, "labels": [-100] * len(prompt_ids) + target_ids}


def tokenized_mixture(job: SFTJob, tokenizer) -> tuple[datasets.Dataset, int]:
    """Every task's mixture, tokenised with its own prompt format (tasks have different columns, so they meet as
    token ids), then shuffled together; and how many examples were dropped as too long for ``train.max_seq_len``."""
    parts, dropped = [], 0
    for name, counts in job.per_task().items():
        task = get_task(name)
        mixture = build_mixture(load_parallel(job.data_dir, name, "train", list(counts)), counts, job.seed,
                                job.content_pool)
        rows = mixture.map(
            lambda row, task=task: tokenize(tokenizer, task.prompt(row, row["lang"]), task.target(row),
                                            job.train.max_seq_len) or {"input_ids": [], "labels": []},
            remove_columns=mixture.column_names,
        ).filter(lambda row: len(row["input_ids"]) > 0)
        if len(rows) == 0:
            raise DataError(f"{name}: every training example's target is longer than train.max_seq_len "
                            f"({job.train.max_seq_len} tokens) allows; raise train.max_seq_len")
        dropped += len(mixture) - len(rows)
        parts.append(rows)
    return (parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts).shuffle(seed=job.seed)), dropped


def validation_rows(job: SFTJob) -> dict[str, dict[str, datasets.Dataset]]:
    """``{task: {lang: rows}}`` validated every epoch: the first ``validation_examples`` of each language."""
    validation = {task: load_parallel(job.data_dir, task, "validation", job.validation_languages or list(counts))
                  for task, counts in job.per_task().items()}
    if job.train.validation_examples:
        validation = {task: {lang: rows.select(range(min(job.train.validation_examples, len(rows)))) for lang, rows in by_lang.items()}
                      for task, by_lang in validation.items()}
    return validation


def make_schedule(model, job: SFTJob, total_steps: int, steps_done: int):
    optimizer = torch.optim.AdamW(decay_groups(model, job.train.weight_decay), lr=job.train.lr)
    warmup_steps = math.ceil(job.train.warmup_ratio * total_steps)
    scheduler = (get_constant_schedule_with_warmup(optimizer, warmup_steps) if job.train.schedule == "constant"
                 else get_cosine_schedule_with_warmup(optimizer, warmup_steps, total_steps))
    for _ in range(steps_done):  # put a resumed schedule where it left off
        scheduler.step()
    return optimizer, scheduler


def make_engine(job: SFTJob, model, ds_config: dict | None, steps_per_epoch: int, first_epoch: int, world_size: int,
                device, session):
    """AdamW with its schedule (where a resumed run left off) under DeepSpeed when there is a DeepSpeed config, else
    under DDP."""
    optimizer, scheduler = make_schedule(model, job, steps_per_epoch * job.train.epochs, (first_epoch - 1) * steps_per_epoch)
    if ds_config is not None:
        return DeepSpeedEngine(model, optimizer, scheduler, world_size, ds_config)
    return DDPEngine(model, session.prepare(model), optimizer, scheduler, world_size, job.train.bf16, device)


def train_epoch(engine, loader: DataLoader, accumulation: int, device) -> dict[str, float]:
    """One pass over the mixture, one optimiser step per ``accumulation`` micro-batches."""
    started, loss_sum, targets_seen, tokens = time.time(), 0.0, 0, 0
    batches = iter(loader)
    for _ in range(len(loader) // accumulation):
        micro_batches = [{k: v.to(device) for k, v in next(batches).items()} for _ in range(accumulation)]
        targets = step_target_tokens(micro_batches, device)
        loss_sum += engine.step(micro_batches, targets)
        targets_seen += sum(target_tokens(batch) for batch in micro_batches)
        tokens += sum(int(batch["attention_mask"].sum()) for batch in micro_batches)
    # the mean target-token loss over every worker's examples, and the throughput of all workers together
    totals = torch.tensor([loss_sum, targets_seen, tokens], dtype=torch.float64, device=device)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(totals)
    seconds = time.time() - started
    return {"train/loss": float(totals[0] / totals[1].clamp(min=1)), "train/tokens_per_second": float(totals[2]) / seconds,
            "train/seconds": seconds}


def validate_and_checkpoint(job: SFTJob, engine, tokenizer, validator: Validator, validation: dict, epoch: int,
                            rank: int, zero3: bool) -> tuple[dict, CheckpointWriter | None]:
    """Per-language validation loss and accuracy, the selection score, and the writer of a checkpoint (rank 0
    reports it).

    Under ZeRO-3 every forward pass gathers parameters from all ranks, so every rank validates and joins the
    gather of the full weights; otherwise rank 0 alone does both."""
    if rank != 0 and not zero3:
        return {}, None
    started, model = time.time(), engine.module
    val_loss = {task: validation_loss(model, tokenizer, job, task, rows) for task, rows in validation.items()}
    val_acc = {task: validator(model, tokenizer, task, rows) for task, rows in validation.items()}
    state_dict = engine.consolidated_state_dict() if zero3 else None
    if rank != 0:
        return {}, None
    metrics = {**validation_metrics(job, val_loss, val_acc), "val/seconds": time.time() - started}
    optimizer_state = engine.optimizer_state()
    return metrics, lambda directory: save_checkpoint(directory, job, model, tokenizer, state_dict, epoch, optimizer_state)


@torch.no_grad()
def validation_loss(model, tokenizer, job: SFTJob, task_name: str, by_lang: dict[str, datasets.Dataset]) -> dict[str, float]:
    """Mean target-token loss per language (the quantity Climb's loss laws are fitted to)."""
    task, collate = get_task(task_name), make_collate(tokenizer.pad_token_id, keeps_selected_logits(model))
    model.eval()
    losses = {}
    for lang, rows in by_lang.items():
        examples = [example for r in rows
                    if (example := tokenize(tokenizer, task.prompt(r, lang), task.target(r), job.train.max_seq_len))]
        examples.sort(key=lambda example: len(example["input_ids"]))  # similar lengths share a batch: less padding
        total, count = 0.0, 0
        for start in range(0, len(examples), job.train.micro_batch):
            batch = {k: v.to(model.device) for k, v in collate(examples[start : start + job.train.micro_batch]).items()}
            n_targets = target_tokens(batch)
            total += model(**batch).loss.item() * n_targets
            count += n_targets
        losses[lang] = total / count if count else float("nan")  # every row too long: no loss to report
    model.train()
    return losses


def validation_metrics(job: SFTJob, val_loss: dict, val_acc: dict) -> dict[str, float]:
    """``{task: {lang: value}}`` losses and accuracies as the run logs them, their averages, the search's objective
    and the score Ray keeps the best checkpoint by."""
    metrics = {job.metric(kind, task, lang): value for kind, values in (("loss", val_loss), ("acc", val_acc))
               for task, by_lang in values.items() for lang, value in by_lang.items()}
    all_losses = [value for by_lang in val_loss.values() for value in by_lang.values()]
    all_scores = [value for by_lang in val_acc.values() for value in by_lang.values()]
    metrics["val/avg_loss"] = sum(all_losses) / len(all_losses)  # (a multi-task run: over every task and language)
    metrics["val/avg_acc"] = sum(all_scores) / len(all_scores)
    if job.objective_weights:
        metrics["val/objective"] = sum(w * val_loss[job.task][lang] for lang, w in job.objective_weights.items())
    # A ratio search's run keeps the checkpoint of its lowest objective: the weighted validation loss whose
    # per-language terms the search fits (a checkpoint picked by accuracy would hand the fit a loss of another epoch).
    # Otherwise the best average validation accuracy (docs/studies.md §1a), lower loss breaking ties between equal
    # accuracies, or the lowest validation loss (the Post-trainer's Guide's choice, docs/studies.md §1b).
    if job.objective_weights:
        metrics[SELECTION_METRIC] = -metrics["val/objective"]
    elif job.train.select_by == "val_loss":
        metrics[SELECTION_METRIC] = -metrics["val/avg_loss"]
    else:
        metrics[SELECTION_METRIC] = metrics["val/avg_acc"] - 1e-6 * metrics["val/avg_loss"]
    return metrics


def save_checkpoint(checkpoint_dir: str, job: SFTJob, model, tokenizer, state_dict, epoch: int,
                    optimizer_state: dict | None = None) -> None:
    """Model, tokenizer, the optimiser's state where the engine has it (``optimizer.pt``) and ``polymix_job.json``
    (the job and its epoch: where a restart resumes)."""
    model.save_pretrained(checkpoint_dir, state_dict=state_dict)
    tokenizer.save_pretrained(checkpoint_dir)
    if optimizer_state is not None:
        torch.save(optimizer_state, Path(checkpoint_dir) / OPTIMIZER_FILE)
    (Path(checkpoint_dir) / "polymix_job.json").write_text(json.dumps({**job.record(), "epoch": epoch}, indent=2))
