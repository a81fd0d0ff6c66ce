"""Per-trial overhead: the same tiny SFT job as a bare PyTorch loop, and as polymix trials, in the trial's own process
(``resources.trainer: auto``, a one-CPU-worker job) and in a Ray Train run (``resources.trainer: ray_train``).

    .venv/bin/python benchmarks/trial_overhead.py [--trials 3] [--epochs 8] [--workdir DIR]

Each polymix study runs ``--trials`` one-worker trials (one mixture each) one at a time, through `polymix run`, on
the embedded default (tiny-s, the math sample data). From every trial's MLflow run it reads the run's wall time
and what the run itself measured: the epochs' training time (``train/seconds``), their validation
(``val/seconds``: loss and generation), the test evaluation once the model was loaded (``eval/seconds``) and the
training throughput (``train/tokens_per_second``). The
overhead is the rest, split by the metrics' timestamps into: start (run created → first epoch began: Ray Train's
actors, the model and data loading), between epochs (checkpointing, reporting), end (last epoch reported →
evaluation began: Ray Train's shutdown, the evaluation's process and model load) and recording (predictions,
metrics). The bare loop trains the same rows with the same batches and validates and evaluates them with the same
functions, in one process and one thread (as the trials' one-CPU worker), without Ray, Tune or MLflow.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.polymix_cli import run_polymix  # noqa: E402

MIXTURES = [{"name": "en", "languages": ["en"], "per_language": 96},
            {"name": "es", "languages": ["es"], "per_language": 96},
            {"name": "en-es", "languages": ["en", "es"], "per_language": 48},
            {"name": "ja", "languages": ["ja"], "per_language": 96},
            {"name": "en-ja", "languages": ["en", "ja"], "per_language": 48}]


def study(name: str, trials: int, epochs: int, trainer: str) -> dict:
    return {
        "name": name, "tasks": ["math"], "models": [{"name": "tiny-s", "tiny": "s"}], "mixtures": MIXTURES[:trials],
        "train": {"epochs": epochs, "lr": 3.0e-3, "global_batch": 16, "micro_batch": 16, "max_seq_len": 160,
                  "validation_examples": 8},
        "eval": {"languages": ["en", "es", "ja"], "test_examples": 8, "baseline": False, "max_new_tokens": {"math": 48}},
        "resources": {"local_cpus": 2, "max_concurrent_trials": 1, "trainer": trainer},
    }


def run_study(workdir: Path, config: dict) -> None:
    run_polymix(workdir, "run", config)


def trial_times(workdir: Path, name: str) -> list[dict]:
    """Per trial run: wall time, the run's own measurements, and the overhead by phase (seconds)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(name)
    rows = []
    for run in client.search_runs([experiment.experiment_id], "tags.`polymix.kind` = 'trial'"):
        history = {key: sorted(client.get_metric_history(run.info.run_id, key), key=lambda m: m.step)
                   for key in ("train/seconds", "val/seconds", "eval/seconds", "train/tokens_per_second")}
        train = [m.value for m in history["train/seconds"]]
        val = [m.value for m in history["val/seconds"]]
        reported = [m.timestamp / 1000 for m in history["train/seconds"]]  # when each epoch reached MLflow
        evaluated = history["eval/seconds"][-1]
        start, end = run.info.start_time / 1000, run.info.end_time / 1000
        wall = end - start
        phases = {
            "start": reported[0] - start - train[0] - val[0],
            "between epochs": sum(b - a - t - v for a, b, t, v in zip(reported, reported[1:], train[1:], val[1:])),
            "end": evaluated.timestamp / 1000 - reported[-1] - evaluated.value,
            "recording": end - evaluated.timestamp / 1000,
        }
        rows.append({"wall": wall, "train": sum(train), "validation": sum(val), "evaluation": evaluated.value,
                     "overhead": wall - sum(train) - sum(val) - evaluated.value, **phases,
                     "train tokens/s": statistics.mean(m.value for m in history["train/tokens_per_second"])})
    return rows


def bare_loop(workdir: Path, config: dict) -> list[dict]:
    """The study's trials as plain PyTorch: the same model, rows, batches, validation and test evaluation."""
    import torch

    from evaluation.evaluate import evaluate_languages, validation_accuracy
    from training.batching import GlobalBatchSampler, make_collate
    from training.mixture import build_mixture
    from training.models import keeps_selected_logits, load_model, load_tokenizer
    from training.sft import tokenize
    from training.sources import load_parallel
    from training.tasks import get_task

    torch.set_num_threads(1)  # as a trial's one CPU worker (Ray sets OMP_NUM_THREADS to a task's CPUs)
    model_dir = next((workdir / "models").iterdir())
    data_dir = next((workdir / "data").iterdir())
    task, train, langs = get_task("math"), config["train"], config["eval"]["languages"]
    rows = []
    for mixture in config["mixtures"]:
        started = time.time()
        model, tokenizer = load_model(str(model_dir)), load_tokenizer(str(model_dir))
        torch.manual_seed(0)
        counts = {lang: mixture["per_language"] for lang in mixture["languages"]}
        mixed = build_mixture(load_parallel(data_dir, "math", "train", list(counts)), counts, 0)
        examples = [tokenize(tokenizer, task.prompt(r, r["lang"]), task.target(r), train["max_seq_len"]) for r in mixed]
        validation = {lang: rows_.select(range(train["validation_examples"]))
                      for lang, rows_ in load_parallel(data_dir, "math", "validation", list(counts)).items()}
        tests = {lang: rows_.select(range(config["eval"]["test_examples"]))
                 for lang, rows_ in load_parallel(data_dir, "math", "test", langs).items()}
        sampler = GlobalBatchSampler(len(examples), train["global_batch"], train["micro_batch"], 1, 0, 0)
        # (logits at the target positions only, as training computes them)
        collate = make_collate(tokenizer.pad_token_id, keeps_selected_logits(model))
        optimizer = torch.optim.AdamW(model.parameters(), lr=train["lr"])
        setup = time.time() - started
        epochs_s = validation_s = 0.0
        tokens = 0
        for epoch in range(1, train["epochs"] + 1):
            sampler.set_epoch(epoch)
            tick = time.time()
            model.train()
            for indices in sampler:
                batch = collate([examples[i] for i in indices])
                model(**batch).loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                tokens += int(batch["attention_mask"].sum())
            epochs_s += time.time() - tick
            tick = time.time()
            model.eval()
            with torch.no_grad():
                for lang, rows_ in validation.items():
                    val = [tokenize(tokenizer, task.prompt(r, lang), task.target(r), train["max_seq_len"]) for r in rows_]
                    model(**collate(val))
            validation_accuracy(model, tokenizer, "math", validation, {"math": 48})
            validation_s += time.time() - tick
        tick = time.time()
        evaluate_languages(model, tokenizer, "math", tests, 64, False, 48)
        evaluation_s = time.time() - tick
        wall = time.time() - started
        rows.append({"wall": wall, "train": epochs_s, "validation": validation_s, "evaluation": evaluation_s,
                     "overhead": wall - epochs_s - validation_s - evaluation_s, "start": setup, "between epochs": 0.0,
                     "end": 0.0, "recording": 0.0, "train tokens/s": tokens / epochs_s})
    return rows


COLUMNS = ["wall", "train", "validation", "evaluation", "overhead", "start", "between epochs", "end", "recording",
           "train tokens/s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=3, choices=range(1, len(MIXTURES) + 1))
    # 8 epochs (~5 s of training a trial): over 2 epochs the tokens/s moved by ±10% from run to run
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="polymix-overhead-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = {}
    for label, trainer in (("polymix, trial process", "auto"), ("polymix, Ray Train", "ray_train")):
        config = study(f"overhead-{trainer.replace('_', '-')}", args.trials, args.epochs, trainer)
        started = time.time()
        run_study(workdir, config)
        print(f"[{label}] `polymix run` of {args.trials} trials, one at a time: {time.time() - started:.1f} s", flush=True)
        results[label] = trial_times(workdir, config["name"])
    results["bare PyTorch loop"] = bare_loop(workdir, config)

    print(f"\nPer trial, median of {args.trials} (seconds; tiny-s, math, {args.epochs} epochs, 1 CPU worker, "
          f"{os.cpu_count()} cores)")
    print(f"{'path':<24}" + "".join(f"{c:>16}" for c in COLUMNS) + f"{'× bare':>10}")
    bare = statistics.median(r["wall"] for r in results["bare PyTorch loop"])
    for label, rows in results.items():
        medians = {c: statistics.median(r[c] for r in rows) for c in COLUMNS}
        print(f"{label:<24}" + "".join(f"{medians[c]:>16.1f}" for c in COLUMNS) + f"{medians['wall'] / bare:>10.2f}")
    print("overhead = wall − train − validation − evaluation; start, between epochs, end and recording are its parts "
          "(the bare loop's start is its model and data loading); train tokens/s: real (not padding) tokens per second "
          "of training, the ratio of the last column is of wall times.")


if __name__ == "__main__":
    main()
