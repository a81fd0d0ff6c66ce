"""Evaluation throughput: useful generated tokens per second, and the share of computed positions that were padding
or answers already finished, for polymix's decoder, transformers' generate() as polymix called it before, and one
prompt at a time.

    .venv/bin/python benchmarks/eval_throughput.py [--model DIR] [--task math] [--langs en,te] [--rows 64]

By default a tiny Qwen3 is first taught the sample data's answer format for ``--steps`` optimiser steps (a plain
PyTorch loop), so that its answers end at EOS or the task's stop string after varying lengths, as a fine-tuned
model's do; an untrained model runs every answer to the budget, where no decoder can save anything. ``--model``
evaluates a checkpoint of yours instead (a polymix run's, or a hub id). The three decoders must give the same
completions (greedy decoding); the benchmark says whether they do.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation import generate as decoding  # noqa: E402
from training.batching import make_collate  # noqa: E402
from training.models import load_model, load_tokenizer, make_tiny_model  # noqa: E402
from training.sft import tokenize  # noqa: E402
from training.sources import load_parallel, sample_data_dir  # noqa: E402
from training.tasks import get_task  # noqa: E402


def taught_tiny_model(task_name: str, langs: list[str], steps: int, workdir: Path) -> str:
    """A tiny Qwen3 given ``steps`` AdamW steps on the task's sample train rows: it learns where answers end."""
    data = sample_data_dir(workdir)
    corpus = (line for f in sorted(data.glob("*/*/train.jsonl")) for line in f.read_text(encoding="utf-8").splitlines())
    path = str(make_tiny_model(workdir / "tiny-s", "s", corpus, seed=0))
    model, tokenizer = load_model(path), load_tokenizer(path)
    task = get_task(task_name)
    rows = [tokenize(tokenizer, task.prompt(r, lang), task.target(r), 256)
            for lang, ds in load_parallel(data, task_name, "train", langs).items() for r in ds]
    collate, optimizer = make_collate(tokenizer.pad_token_id), torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        batch = collate([rows[i] for i in torch.randint(len(rows), (16,), generator=generator).tolist()])
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(path)
    return path


def one_at_a_time(model, tokenizer, prompts, budget, batch_size, stop, stats):
    return [c for prompt in prompts for c in decoding.generate(model, tokenizer, [prompt], budget, 1, stop, stats)]


def run(name, decode, model, tokenizer, prompts, budget, batch_size, stop, repeats) -> tuple[list, dict]:
    """The decoder's completions and figures; its seconds are the median of ``repeats`` runs (a run takes ~1 s here)."""
    timings = []
    for _ in range(repeats):
        stats = decoding.DecodeStats()
        started = time.perf_counter()
        completions = decode(model, tokenizer, prompts, budget, batch_size, stop, stats)
        timings.append(time.perf_counter() - started)
    seconds = sorted(timings)[len(timings) // 2]
    return completions, {"decoder": name, "seconds": seconds, "generated": stats.generated,
                         "tokens_per_s": stats.generated / seconds, "wasted": stats.wasted_share,
                         "prompt_padding": stats.prompt_padding_share, "decoding_wasted": stats.decoding_wasted_share}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a checkpoint directory or hub id (default: a tiny model taught here)")
    parser.add_argument("--task", default="math")
    parser.add_argument("--langs", default="en,te")
    parser.add_argument("--rows", type=int, default=64, help="test rows per language")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--budget", type=int, default=96, help="new tokens per answer at most")
    parser.add_argument("--steps", type=int, default=300, help="teaching steps of the default tiny model")
    parser.add_argument("--repeats", type=int, default=3, help="runs per batched decoder (the median time is printed)")
    args = parser.parse_args()
    torch.manual_seed(0)
    langs = args.langs.split(",")
    with tempfile.TemporaryDirectory(prefix="polymix-eval-bench-") as folder:  # the taught model and its data
        benchmark(args, langs, Path(folder))


def benchmark(args, langs: list[str], workdir: Path) -> None:
    path = args.model or taught_tiny_model(args.task, langs, args.steps, workdir)
    model, tokenizer = load_model(path), load_tokenizer(path)
    model.to("cuda" if torch.cuda.is_available() else "cpu")
    task = get_task(args.task)
    tests = load_parallel(sample_data_dir(workdir), args.task, "test", langs)
    batched_generate = decoding._generate_batch  # transformers' generate(), run on the same length-sorted batches

    def previous(model, tokenizer, prompts, budget, batch_size, stop, stats):
        own, decoding._decode = decoding._decode, batched_generate
        try:
            return decoding.generate(model, tokenizer, prompts, budget, batch_size, stop, stats)
        finally:
            decoding._decode = own

    print(f"model {path}; task {args.task}; {args.rows} test rows per language; batch {args.batch_size}; "
          f"budget {args.budget} new tokens; {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads", flush=True)
    print("wasted: padded or finished positions among all computed; prompt pad: left padding in the prompt passes; "
          "decoding: finished rows among the positions of the decoding steps")
    print(f"{'lang':4}  {'decoder':28}  {'seconds':>8}  {'generated':>9}  {'tokens/s':>8}  {'wasted':>7}  "
          f"{'prompt pad':>10}  {'decoding':>8}  same")
    for lang in langs:
        prompts = [task.prompt(row, lang) for row in list(tests[lang])[: args.rows]]
        decoding.generate(model, tokenizer, prompts[:2], 4, 2, task.stop(lang))  # warm-up
        reference = None
        for name, decode in (("polymix (rows leave as done)", decoding.generate),
                             ("transformers generate()", previous),
                             ("one prompt at a time", one_at_a_time)):
            completions, row = run(name, decode, model, tokenizer, prompts, args.budget, args.batch_size, task.stop(lang),
                                   1 if decode is one_at_a_time else args.repeats)
            reference = reference or completions  # (polymix's: the others must give the same completions)
            same = sum(a == b for a, b in zip(completions, reference))
            print(f"{lang:4}  {row['decoder']:28}  {row['seconds']:8.2f}  {row['generated']:9d}  "
                  f"{row['tokens_per_s']:8.1f}  {row['wasted']:7.1%}  {row['prompt_padding']:10.1%}  "
                  f"{row['decoding_wasted']:8.1%}  {same}/{len(prompts)}", flush=True)
        lengths = sorted(c.tokens for c in reference)
        print(f"{lang:4}  answer lengths: min {lengths[0]}, median {lengths[len(lengths) // 2]}, max {lengths[-1]}; "
              f"finish: " + ", ".join(f"{f} {sum(c.finish == f for c in reference)}" for f in ("eos", "stop", "length")))


if __name__ == "__main__":
    main()
