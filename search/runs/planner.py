"""`polymix plan`: what a study costs before it is submitted, and the order that packs the cluster.

Cost model (stated, not measured):
- Training: a run trains on ``epochs × Σ counts × tokens_per_example[task]`` tokens (summed over its tasks for a
  multi-task run); FLOPs ≈ 6 · params · tokens (model FLOPs: recomputation under gradient checkpointing is not
  counted, by MFU's convention); time = FLOPs / (MFU × peak × GPUs of the run).
- Generation: every epoch the run answers its validation rows in each validated language (the checkpoint rule),
  then the kept checkpoint answers the test rows in every evaluation language; an untrained baseline only the
  latter. Tokens generated = answers × new tokens per answer (``plan.generated_tokens_per_example``, else the task's
  whole budget: an upper bound); time = tokens / the model's decoding throughput on one GPU
  (``plan.decode_tokens_per_s``). One GPU decodes while the run's others wait, so its GPU-hours count them all.
Makespan is estimated by replaying the order in which Ray Tune admits trials (first pending trial that fits the
free GPUs starts) on a cluster of G GPUs.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from pathlib import Path

from search.runs.designs import TrialSpec
from search.study import PlanConfig, Study
from training.errors import ConfigError
from training.sample_data import SAMPLE_ROWS


@dataclass(frozen=True)
class RunCost:
    trial: TrialSpec
    params: float
    tokens: float  # trained on
    flops: float  # training
    gpus: float
    generated_tokens: float  # validation (every epoch) and test answers
    train_hours: float  # wall-clock hours on the run's own GPUs
    generation_hours: float

    @property
    def hours(self) -> float:
        return self.train_hours + self.generation_hours

    @property
    def gpu_hours(self) -> float:
        return self.hours * self.gpus


def model_params(study: Study) -> dict[str, float]:
    from training.models import tiny_param_count

    params = {}
    for index, model in enumerate(study.models):
        if model.params is not None:
            params[model.name] = model.params
        elif model.tiny is not None:
            params[model.name] = float(tiny_param_count(model.tiny, model.init))
        else:
            raise ConfigError(f"models[{index}].params: not set; `polymix plan` needs the parameter count of "
                              f"{model.path} (e.g. params: 6.0e8)")
    return params


def split_rows(study: Study) -> dict[tuple[str, str], int | None]:
    """Rows per language of each (task, split) the runs generate answers for, where the data says it before any
    conversion (read once: a data.path layout is counted from its files)."""
    return {(task, split): _rows_in(study, task, split) for task in study.tasks for split in ("validation", "test")}


def _rows_in(study: Study, task: str, split: str) -> int | None:
    if study.data.path:
        files = sorted(Path(study.data.path).glob(f"{task}/*/{split}.jsonl"))
        return sum(1 for line in files[0].open(encoding="utf-8") if line.strip()) if files else None
    if study.data.sources:
        return study.data.sources[task].validation_size if split == "validation" else study.plan.test_examples.get(task)
    return SAMPLE_ROWS[split]


def examples_per_language(rows_of: dict, trial: TrialSpec, task: str, split: str) -> int:
    """How many rows of ``split`` a run answers in each language: the study's limit, else the whole split."""
    limit = trial.train.validation_examples if split == "validation" else trial.eval.test_examples
    rows = rows_of[task, split]
    if rows is None and limit is None and split == "validation":
        raise ConfigError(f"train.validation_examples: not set, and data.path has no {task} validation split to count; "
                          "set it to the validation rows per language")
    if rows is None and limit is None:
        raise ConfigError(f"plan.test_examples.{task}: not set; give the test examples per language of the {task} "
                          "data (e.g. MGSM: 250), or limit them with eval.test_examples")
    return min(n for n in (limit, rows) if n is not None)


def generated_tokens(study: Study, trial: TrialSpec, rows_of: dict) -> float:
    """New tokens a run generates: validation answers every epoch (unless a baseline), test answers once."""
    total = 0.0
    for task, counts in trial.task_counts().items():
        per_answer = study.plan.generated_tokens_per_example.get(task, trial.eval.budget(task))
        test_answers = examples_per_language(rows_of, trial, task, "test") * len(trial.eval.language_list())
        total += per_answer * test_answers
        if not trial.baseline:
            validated = trial.validation_languages or [lang for lang, count in counts.items() if count > 0]
            per_epoch = examples_per_language(rows_of, trial, task, "validation") * len(validated)
            total += per_answer * per_epoch * trial.train.epochs
    return total


def decode_tokens_per_s(study: Study, model: str) -> float:
    rates = study.plan.decode_tokens_per_s
    return rates.get(model, rates.get("default", PlanConfig().decode_tokens_per_s["default"]))


def estimate(study: Study, trials: list[TrialSpec]) -> list[RunCost]:
    params = model_params(study)
    plan = study.plan
    rows_of = split_rows(study)
    costs = []
    for trial in trials:
        examples_tokens = 0.0
        for task, counts in trial.task_counts().items():  # (a multi-task run: every task's examples)
            tokens_per_example = plan.tokens_per_example.get(task)
            if tokens_per_example is None:
                raise ConfigError(f"plan.tokens_per_example.{task}: not set; give the mean number of tokens "
                                  f"(prompt + target) of one {task} training example")
            examples_tokens += sum(counts.values()) * tokens_per_example
        tokens = 0.0 if trial.baseline else trial.train.epochs * examples_tokens
        gpus = trial.resources.gpus
        flops = 6 * params[trial.model.name] * tokens
        generated = generated_tokens(study, trial, rows_of)
        # (a CPU study has no GPU-hours: its runs get no hours, only FLOPs and tokens)
        train_hours = flops / (plan.mfu * plan.gpu_peak_tflops * 1e12 * gpus) / 3600 if gpus else 0.0
        generation_hours = generated / decode_tokens_per_s(study, trial.model.name) / 3600 if gpus else 0.0
        costs.append(RunCost(trial, params[trial.model.name], tokens, flops, gpus, generated, train_hours,
                             generation_hours))
    return costs


def longest_first(costs: list[RunCost]) -> list[RunCost]:
    """Polymix's trial order: longest wall time first (LPT list scheduling), wider runs first among equals;
    CPU-only runs (no GPU time) by their FLOPs."""
    return sorted(costs, key=lambda c: (-c.hours, -c.gpus, -c.flops, c.trial.label))


def lower_bound(costs: list[RunCost], cluster_gpus: int) -> float:
    """No schedule beats the total GPU-time spread over every GPU, nor the longest single run."""
    return max(sum(c.gpu_hours for c in costs) / cluster_gpus, max((c.hours for c in costs), default=0.0))


def simulate_makespan(ordered: list[RunCost], cluster_gpus: int) -> float:
    """Replay Tune's admission: whenever GPUs free up, start pending runs in order that fit (backfilling)."""
    too_wide = [c for c in ordered if c.gpus > cluster_gpus]
    if too_wide:
        raise ConfigError(f"plan.cluster_gpus={cluster_gpus}: {too_wide[0].trial.label} needs {too_wide[0].gpus:g} "
                          "GPUs; raise plan.cluster_gpus or shrink that model's profile")
    pending = [c for c in ordered if c.gpus > 0]
    free, now, running = float(cluster_gpus), 0.0, []  # running: heap of (end time, gpus)
    while pending or running:
        started = []
        for cost in pending:
            if cost.gpus <= free + 1e-9:
                free -= cost.gpus
                heapq.heappush(running, (now + cost.hours, cost.gpus))
                started.append(cost)
        pending = [c for c in pending if c not in started]
        now, gpus = heapq.heappop(running)
        free += gpus
        while running and running[0][0] <= now + 1e-12:  # everything that ends at the same moment
            free += heapq.heappop(running)[1]
    return now


def plan_summary(study: Study, trials: list[TrialSpec]) -> dict:
    costs = estimate(study, trials)
    gpus = study.plan.cluster_gpus
    ordered = longest_first(costs)  # an untrained baseline holds its GPUs while it generates too
    return {
        "study": study.name,
        "assumptions": study.plan.model_dump(),
        "runs": [
            {"label": c.trial.label, "model": c.trial.model.name, "task": c.trial.task, "mixture": c.trial.mixture,
             "baseline": c.trial.baseline, "languages": len(c.trial.counts), "examples": sum(c.trial.counts.values()),
             "gpus": c.gpus, "zero_stage": c.trial.train.zero_stage if c.trial.train.engine == "deepspeed" else None,
             "micro_batch": c.trial.train.micro_batch, "tokens": c.tokens, "flops": c.flops,
             "generated_tokens": c.generated_tokens, "train_hours": c.train_hours,
             "generation_hours": c.generation_hours, "hours": c.hours, "gpu_hours": c.gpu_hours,
             "spec_hash": c.trial.spec_hash}
            for c in ordered
        ],
        "baselines": sum(1 for c in costs if c.trial.baseline),
        "total_gpu_hours": sum(c.gpu_hours for c in costs),
        "generation_gpu_hours": sum(c.generation_hours * c.gpus for c in costs),
        "makespan_hours": simulate_makespan(ordered, gpus),
        "makespan_in_study_order_hours": simulate_makespan(costs, gpus),
        "lower_bound_hours": lower_bound(costs, gpus),
    }


def _assumptions(summary: dict) -> list[str]:
    a = summary["assumptions"]
    generated = ", ".join(f"{task} {n}" for task, n in a["generated_tokens_per_example"].items())
    rates = ", ".join(f"{model} {rate:,.0f}" for model, rate in a["decode_tokens_per_s"].items())
    return [
        f"cost model: training FLOPs = 6·params·tokens, MFU {a['mfu']:.0%} of {a['gpu_peak_tflops']:g} TFLOP/s per GPU; "
        f"tokens per example {a['tokens_per_example']}",
        "generation: validation answers every epoch and test answers in every evaluation language, decoded on one GPU "
        f"of the run at {rates} tokens/s (plan.decode_tokens_per_s) while its other GPUs wait; "
        + (f"new tokens per answer {generated}, the other tasks' whole budget" if generated
           else "every answer runs to its task's whole budget (an upper bound; plan.generated_tokens_per_example)"),
    ]


def format_plan(summary: dict) -> str:
    a = summary["assumptions"]
    header = ["#", "model", "task", "mixture", "langs", "examples", "GPUs", "ZeRO", "tokens", "generated", "hours",
              "GPU-h"]
    rows = [[str(i + 1), r["model"], r["task"], r["mixture"], str(r["languages"]), f"{r['examples']:,}",
             f"{r['gpus']:g}", "-" if r["zero_stage"] is None else str(r["zero_stage"]), f"{r['tokens']:.3g}",
             f"{r['generated_tokens']:.3g}", f"{r['hours']:.2f}", f"{r['gpu_hours']:.2f}"]
            for i, r in enumerate(summary["runs"])]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    line = lambda row: "  ".join(v.rjust(w) if i in (0, 4, 5, 6, 8, 9, 10, 11) else v.ljust(w)
                                 for i, (v, w) in enumerate(zip(row, widths)))
    lower = summary["lower_bound_hours"]
    ratio = lambda hours: f" ({hours / lower:.3f} × lower bound)" if lower else ""
    training = len(rows) - summary["baselines"]
    head = [
        f"study {summary['study']}: {training} training runs"
        + (f" (+{summary['baselines']} untrained baseline evaluations: test generation only)" if summary["baselines"] else ""),
        *_assumptions(summary),
        "",
        line(header), line(["-" * w for w in widths]), *map(line, rows), "",
    ]
    if not any(r["gpus"] for r in summary["runs"]):
        total_flops = sum(r["flops"] for r in summary["runs"])
        generated = sum(r["generated_tokens"] for r in summary["runs"])
        return "\n".join([*head, f"total: {total_flops:.3g} training FLOPs and {generated:.3g} generated tokens; no run "
                                  "asks for GPUs (a CPU study), so GPU-hours and makespan do not apply"])
    share = summary["generation_gpu_hours"] / summary["total_gpu_hours"] if summary["total_gpu_hours"] else 0.0
    return "\n".join([
        *head,
        f"total: {summary['total_gpu_hours']:,.1f} GPU-hours, of which generation {summary['generation_gpu_hours']:,.1f} "
        f"({share:.0%})",
        f"makespan on {a['cluster_gpus']} GPUs, longest-first order: {summary['makespan_hours']:,.1f} h"
        + ratio(summary["makespan_hours"]),
        f"makespan in the study file's order: {summary['makespan_in_study_order_hours']:,.1f} h"
        + ratio(summary["makespan_in_study_order_hours"]),
        f"lower bound max(GPU-hours / GPUs, longest run): {lower:,.1f} h",
    ])
