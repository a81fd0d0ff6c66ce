"""`polymix plan`: what a study costs before it is submitted, and the order that packs the cluster.

Cost model (stated, not measured): a run trains on ``epochs × Σ counts × tokens_per_example[task]`` tokens
(summed over its tasks for a multi-task run);
training FLOPs ≈ 6 · params · tokens (model FLOPs: recomputation under gradient checkpointing is not
counted, by MFU's convention); wall time = FLOPs / (MFU × peak × GPUs of the run). Evaluation and
validation generation are not counted. Makespan is estimated by replaying the order in which Ray Tune
admits trials (first pending trial that fits the free GPUs starts) on a cluster of G GPUs.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from search.runs.designs import TrialSpec
from search.study import Study
from training.errors import ConfigError


@dataclass(frozen=True)
class RunCost:
    trial: TrialSpec
    params: float
    tokens: float
    flops: float
    gpus: float
    hours: float  # wall-clock hours on the run's own GPUs (0 for a baseline, which trains nothing)

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
            params[model.name] = float(tiny_param_count(model.tiny))
        else:
            raise ConfigError(f"models[{index}].params: not set; `polymix plan` needs the parameter count of "
                              f"{model.path} (e.g. params: 6.0e8)")
    return params


def estimate(study: Study, trials: list[TrialSpec]) -> list[RunCost]:
    params = model_params(study)
    plan = study.plan
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
        hours = flops / (plan.mfu * plan.gpu_peak_tflops * 1e12 * gpus) / 3600 if gpus else 0.0
        costs.append(RunCost(trial, params[trial.model.name], tokens, flops, gpus, hours))
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
    training = [c for c in costs if not c.trial.baseline]
    ordered = longest_first(training)
    return {
        "study": study.name,
        "assumptions": study.plan.model_dump(),
        "runs": [
            {"label": c.trial.label, "model": c.trial.model.name, "task": c.trial.task, "mixture": c.trial.mixture,
             "languages": len(c.trial.counts), "examples": sum(c.trial.counts.values()), "gpus": c.gpus,
             "zero_stage": c.trial.train.zero_stage if c.trial.train.engine == "deepspeed" else None,
             "micro_batch": c.trial.train.micro_batch, "tokens": c.tokens, "flops": c.flops,
             "hours": c.hours, "gpu_hours": c.gpu_hours, "spec_hash": c.trial.spec_hash}
            for c in ordered
        ],
        "baselines": sum(1 for c in costs if c.trial.baseline),
        "total_gpu_hours": sum(c.gpu_hours for c in training),
        "makespan_hours": simulate_makespan(ordered, gpus),
        "makespan_in_study_order_hours": simulate_makespan(training, gpus),
        "lower_bound_hours": lower_bound(training, gpus),
    }


def format_plan(summary: dict) -> str:
    a = summary["assumptions"]
    header = ["#", "model", "task", "mixture", "langs", "examples", "GPUs", "ZeRO", "tokens", "hours", "GPU-h"]
    rows = [[str(i + 1), r["model"], r["task"], r["mixture"], str(r["languages"]), f"{r['examples']:,}",
             f"{r['gpus']:g}", "-" if r["zero_stage"] is None else str(r["zero_stage"]), f"{r['tokens']:.3g}",
             f"{r['hours']:.2f}", f"{r['gpu_hours']:.2f}"] for i, r in enumerate(summary["runs"])]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    line = lambda row: "  ".join(v.rjust(w) if i in (0, 4, 5, 6, 8, 9, 10) else v.ljust(w)
                                 for i, (v, w) in enumerate(zip(row, widths)))
    lower = summary["lower_bound_hours"]
    ratio = lambda hours: f" ({hours / lower:.3f} × lower bound)" if lower else ""
    head = [
        f"study {summary['study']}: {len(rows)} training runs"
        + (f" (+{summary['baselines']} untrained baseline evaluations, no training)" if summary["baselines"] else ""),
        f"cost model: FLOPs = 6·params·tokens, MFU {a['mfu']:.0%} of {a['gpu_peak_tflops']:g} TFLOP/s per GPU; "
        f"tokens per example {a['tokens_per_example']}",
        "",
        line(header), line(["-" * w for w in widths]), *map(line, rows), "",
    ]
    if not any(r["gpus"] for r in summary["runs"]):
        total_flops = sum(r["flops"] for r in summary["runs"])
        return "\n".join([*head, f"total: {total_flops:.3g} training FLOPs; no run asks for GPUs (a CPU study), "
                                  "so GPU-hours and makespan do not apply"])
    return "\n".join([
        *head,
        f"total: {summary['total_gpu_hours']:,.1f} GPU-hours",
        f"makespan on {a['cluster_gpus']} GPUs, longest-first order: {summary['makespan_hours']:,.1f} h"
        + ratio(summary["makespan_hours"]),
        f"makespan in the study file's order: {summary['makespan_in_study_order_hours']:,.1f} h"
        + ratio(summary["makespan_in_study_order_hours"]),
        f"lower bound max(GPU-hours / GPUs, longest run): {lower:,.1f} h",
    ])
