"""GPU path check: one real SFT trial through polymix's training loop, DeepSpeed ZeRO-2 in bf16, on one GPU.

The model is a randomly initialised Qwen3 with Qwen3-0.6B's shape (hidden 1024, 28 layers, 16 heads, 8 KV
heads, MLP 3072) and a tokenizer trained on the sample data, written in HF format and trained by the same
TorchTrainer + `training/sft.py` path as a study's trial. Printed: training tokens/s (non-padding tokens),
and MFU = 6 · params · tokens/s / peak FLOP/s.

    python benchmarks/gpu_sft.py                     # on a GPU machine (H100 bf16 dense peak: 989 TFLOP/s)
    python benchmarks/gpu_sft.py --cpu-check         # a tiny shape on CPU, DDP in fp32: checks the script runs
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

QWEN3_06B_SHAPE = dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                       num_key_value_heads=8)
TINY_SHAPE = dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)


def train_settings(args):
    """On a GPU, the profile being measured (DeepSpeed ZeRO-2, bf16, gradient checkpointing); ``--cpu-check``: DDP in
    fp32, which a CPU runs."""
    from training.settings import TrainSettings

    gpu = not args.cpu_check
    return TrainSettings(epochs=args.epochs, lr=1e-4, global_batch=args.global_batch, micro_batch=args.micro_batch,
                         max_seq_len=args.max_seq_len, engine="deepspeed" if gpu else "ddp", zero_stage=2, bf16=gpu,
                         # (on CPU an untrained tiny model answers to the budget: 8 validation rows per language
                         # took 70 of the check's 118 s)
                         gradient_checkpointing=gpu, validation_examples=8 if gpu else 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-language", type=int, default=2000, help="math examples per language (5 languages)")
    parser.add_argument("--micro-batch", type=int, default=16)
    parser.add_argument("--global-batch", type=int, default=64)
    parser.add_argument("--max-seq-len", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=2, help="the first epoch includes warm-up; both are printed")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="the GPU's dense bf16 peak (H100 SXM: 989)")
    parser.add_argument("--cpu-check", action="store_true", help="tiny shape, CPU, DDP fp32: check the script only")
    args = parser.parse_args()
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
    with tempfile.TemporaryDirectory(prefix="polymix-gpu-sft-") as folder:  # model, data and checkpoints: removed after
        benchmark(args, Path(folder))


def benchmark(args, work: Path) -> None:
    import ray
    import ray.train
    import torch
    from ray.train.torch import TorchTrainer

    from evaluation.evaluate import validation_accuracy
    from training.models import make_random_model
    from training.sft import SFTJob, train_loop
    from training.sources import sample_data_dir

    data_dir = sample_data_dir(work)
    corpus = (line for f in sorted(data_dir.glob("*/*/train.jsonl")) for line in f.read_text(encoding="utf-8").splitlines())
    shape = TINY_SHAPE if args.cpu_check else QWEN3_06B_SHAPE
    model_dir = make_random_model(work / "model", shape, corpus)
    with torch.device("meta"):
        from transformers import AutoConfig, AutoModelForCausalLM

        params = sum(p.numel() for p in AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_dir)).parameters())

    languages = ["en", "es", "ja", "bn", "sw"]
    per_language = min(args.per_language, 64) if args.cpu_check else args.per_language
    job = SFTJob(model_path=str(model_dir), task="math", data_dir=str(data_dir),
                 counts={lang: per_language for lang in languages}, train=train_settings(args))
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    started = time.time()
    result = TorchTrainer(
        train_loop, train_loop_config={"job": job, "validator": validation_accuracy},
        scaling_config=ray.train.ScalingConfig(num_workers=1, use_gpu=not args.cpu_check,
                                               resources_per_worker={"CPU": max(1, (os.cpu_count() or 2) - 1)}),
        # One retry of the worker group, as polymix's trials have: under CPU load Ray Train's placement-group
        # cleaner can take a live controller for dead (its is_actor_alive reads a missing State API answer as dead)
        # and remove the group under it, which failed this CPU check once in a full test run.
        run_config=ray.train.RunConfig(name="gpu-sft-benchmark", storage_path=str(work / "ray_results"),
                                       failure_config=ray.train.FailureConfig(max_failures=1)),
    ).fit()
    wall = time.time() - started
    history = result.metrics_dataframe.sort_values("epoch")
    device = "CPU" if args.cpu_check else torch.cuda.get_device_name(0) if torch.cuda.is_available() else "GPU"
    print(f"\nmodel: Qwen3 shape {shape}, {params / 1e6:.1f} M parameters; {len(languages)}×{per_language} math examples, "
          f"max_seq_len {args.max_seq_len}, micro-batch {args.micro_batch}, global batch {args.global_batch}, "
          f"{job.train.engine}{' ZeRO-2 bf16 + gradient checkpointing' if job.train.engine == 'deepspeed' else ' fp32'} on {device}")
    print(f"{'epoch':>5} {'train loss':>11} {'tokens/s':>11} {'MFU':>7}")
    for _, row in history.iterrows():
        mfu = 6 * params * row["train/tokens_per_second"] / (args.peak_tflops * 1e12)
        print(f"{int(row['epoch']):>5} {row['train/loss']:>11.4f} {row['train/tokens_per_second']:>11,.0f} {mfu:>7.1%}")
    print(f"wall time of the whole trial (start-up, training, validation, checkpoints): {wall:.0f} s")
    ray.shutdown()


if __name__ == "__main__":
    main()
