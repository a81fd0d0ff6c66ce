"""The 220-run study file, `polymix plan`'s cost model and makespan replay, and the trial order."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from search.runs.designs import TrialResources, expand_trials
from search.runs.planner import estimate, format_plan, longest_first, lower_bound, plan_summary, simulate_makespan
from search.study import load_study, parse_study
from training.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "configs/english_not_all.yaml"


def test_english_not_all_is_the_papers_grid():
    study = load_study(STUDY)
    trials = expand_trials(study)
    training = [t for t in trials if not t.baseline]
    assert len(training) == 220 and len(trials) - len(training) == 10
    sizes = sorted(len(m.languages) for m in study.mixtures)
    assert sizes == [1] + [2] * 4 + [4] * 5 + [5] + [6] * 5 + [9] * 5 + [10]
    assert sum("en" not in m.languages for m in study.mixtures) >= 3  # zero-shot mixtures without English
    assert len({t.spec_hash for t in trials}) == 230
    math_all = next(t for t in training if t.mixture == "all10" and t.task == "math" and t.model.name == "qwen3-8b")
    assert math_all.counts == {lang: 10000 for lang in ("en", "es", "ja", "bn", "sw", "fr", "de", "ru", "zh", "th")}
    assert math_all.resources == TrialResources(workers=8, cpus_per_worker=8, gpus_per_worker=1)
    assert (math_all.train.zero_stage, math_all.train.micro_batch, math_all.train.bf16) == (3, 4, True)
    api_en = next(t for t in training if t.mixture == "en" and t.task == "api" and t.model.name == "qwen3-0.6b")
    assert api_en.counts == {"en": 3024} and api_en.resources.gpus == 1


def test_plan_costs_follow_the_stated_model():
    study = load_study(STUDY)
    costs = estimate(study, expand_trials(study))
    run = next(c for c in costs if c.trial.label == "qwen3-8b/math/all10")
    tokens = 6 * 100_000 * 350  # epochs × examples × tokens per example
    assert run.tokens == tokens and run.flops == 6 * 8.2e9 * tokens
    assert run.train_hours == pytest.approx(6 * 8.2e9 * tokens / (0.35 * 312e12 * 8) / 3600)
    # Generation: 6 epochs × 200 validation rows × 10 trained languages, then 250 MGSM rows × 6 evaluation
    # languages, each answer at most the 512-token budget, at 2,000 tokens/s on one of the run's 8 GPUs.
    assert run.generated_tokens == 512 * (6 * 200 * 10 + 250 * 6)
    assert run.generation_hours == pytest.approx(run.generated_tokens / 2000 / 3600)
    assert run.gpu_hours == pytest.approx(8 * (run.train_hours + run.generation_hours))
    baseline = next(c for c in costs if c.trial.label == "qwen3-8b/api/untrained")
    assert baseline.tokens == baseline.train_hours == 0 and baseline.generated_tokens == 128 * 399 * 6


def test_measured_generation_figures_replace_the_upper_bound_and_name_their_field():
    raw = _raw()
    raw["plan"].update(generated_tokens_per_example={"math": 200}, decode_tokens_per_s={"default": 2000, "qwen3-8b": 800})
    costs = {c.trial.label: c for c in estimate(parse_study(raw), expand_trials(parse_study(raw)))}
    assert costs["qwen3-8b/math/all10"].generated_tokens == 200 * (6 * 200 * 10 + 250 * 6)
    assert costs["qwen3-8b/math/all10"].generation_hours == pytest.approx(200 * (6 * 200 * 10 + 250 * 6) / 800 / 3600)
    assert costs["qwen3-0.6b/api/en"].generated_tokens == 128 * (6 * 150 * 1 + 399 * 6)  # (api: still its budget)
    raw["plan"].update(decode_tokens_per_s={"qwen3-9b": 800}, test_examples={"summarization": 10})
    with pytest.raises(ConfigError) as error:
        parse_study(raw, "english_not_all.yaml")
    assert "plan.decode_tokens_per_s.qwen3-9b: not a model of this study" in str(error.value)
    assert "plan.test_examples.summarization: not a task of this study (math, api)" in str(error.value)
    del raw["plan"]["test_examples"], raw["plan"]["decode_tokens_per_s"]
    with pytest.raises(ConfigError, match=r"plan.test_examples.math: not set; give the test examples per language"):
        estimate(parse_study(raw), expand_trials(parse_study(raw)))


def test_makespan_replay_on_a_hand_checked_case():
    study = load_study(STUDY)
    costs = [c for c in estimate(study, expand_trials(study)) if not c.trial.baseline]
    wide = next(c for c in costs if c.gpus == 8)
    narrow = next(c for c in costs if c.gpus == 1)
    # 8 GPUs: the wide run holds all of them, so the narrow one waits for it (or runs first).
    assert simulate_makespan([wide, narrow], 8) == pytest.approx(wide.hours + narrow.hours)
    # 9 GPUs: both at once.
    assert simulate_makespan([wide, narrow], 9) == pytest.approx(max(wide.hours, narrow.hours))
    assert lower_bound([wide, narrow], 9) == pytest.approx(max(wide.hours, (8 * wide.hours + narrow.hours) / 9))
    with pytest.raises(ConfigError, match=r"plan.cluster_gpus=4: .* needs 8 GPUs"):
        simulate_makespan([wide], 4)


def test_longest_first_packs_the_220_runs_near_the_bound():
    study = load_study(STUDY)
    summary = plan_summary(study, expand_trials(study))
    hours = [run["hours"] for run in summary["runs"]]
    assert hours == sorted(hours, reverse=True)
    assert summary["total_gpu_hours"] == pytest.approx(sum(r["gpu_hours"] for r in summary["runs"]))
    assert summary["makespan_hours"] <= 1.05 * summary["lower_bound_hours"]
    assert summary["makespan_hours"] <= summary["makespan_in_study_order_hours"]


def test_plan_cli_table_and_json():
    table = subprocess.run([sys.executable, "-m", "ray_jobs.cli", "plan", str(STUDY)], capture_output=True, text=True, cwd=ROOT)
    assert table.returncode == 0, table.stderr
    assert "220 training runs (+10 untrained baseline evaluations: test generation only)" in table.stdout
    assert "GPU-hours, of which generation" in table.stdout and "makespan on 64 GPUs" in table.stdout
    assert "every answer runs to its task's whole budget (an upper bound" in table.stdout
    rows = [line for line in table.stdout.splitlines() if re.match(r"\s*\d+\s+\S+\s+(math|api)\s", line)]
    assert len(rows) == 230 and sum(" untrained " in row for row in rows) == 10
    as_json = subprocess.run([sys.executable, "-m", "ray_jobs.cli", "plan", str(STUDY), "--json", "--set", "plan.cluster_gpus=128"],
                             capture_output=True, text=True, cwd=ROOT)
    summary = json.loads(as_json.stdout)
    assert len(summary["runs"]) == 230 and summary["assumptions"]["cluster_gpus"] == 128
    assert {run["gpus"] for run in summary["runs"]} == {1, 4, 8}


def _raw():
    return yaml.safe_load(STUDY.read_text())


@pytest.mark.parametrize("change, message", [
    (lambda r: r["models"][0].update(profile="huge"), r"models\[0\]\.profile: unknown profile 'huge'"),
    (lambda r: r["mixtures"][1].update(per_language={"math": 10}), r"mixtures\[1\]\.per_language: gives counts for math; give one count for every task"),
    (lambda r: r["profiles"]["8b"].update(micro_batch=3), r"profiles\.8b: micro_batch × workers = 24 does not divide train.global_batch=512"),
    (lambda r: r["profiles"]["8b"].update(zero_stage=4), r"profiles\.8b\.zero_stage: Input should be 0, 1, 2 or 3"),
    (lambda r: r["plan"]["tokens_per_example"].update(summarization=100), r"plan\.tokens_per_example\.summarization: not a task"),
    (lambda r: r["models"].append({"name": "x", "path": "org/x", "params": -1}), r"models\[5\]\.params: Input should be greater than 0"),
])
def test_bad_profiles_and_counts_name_the_field(change, message):
    raw = _raw()
    change(raw)
    with pytest.raises(ConfigError, match=message):
        parse_study(raw, "english_not_all.yaml")


def test_plan_needs_parameter_counts_for_hub_models():
    raw = _raw()
    del raw["models"][2]["params"]
    study = parse_study(raw)
    with pytest.raises(ConfigError, match=r"models\[2\]\.params: not set; `polymix plan` needs the parameter count of Qwen/Qwen3-8B-Base"):
        estimate(study, expand_trials(study))


def test_resources_do_not_change_a_runs_identity():
    raw = _raw()
    raw["profiles"]["up-to-2b"]["cpus_per_worker"] = 2
    before = {t.label: t.spec_hash for t in expand_trials(load_study(STUDY))}
    after = {t.label: t.spec_hash for t in expand_trials(parse_study(raw))}
    assert before == after
    raw["profiles"]["up-to-2b"]["zero_stage"] = 3  # a different engine setting is a different run
    changed = {t.label: t.spec_hash for t in expand_trials(parse_study(raw))}
    assert changed["qwen3-0.6b/math/en"] != before["qwen3-0.6b/math/en"]
    assert changed["qwen3-8b/math/en"] == before["qwen3-8b/math/en"]


def test_longest_first_is_stable_for_equal_runs():
    study = load_study(STUDY)
    costs = [c for c in estimate(study, expand_trials(study)) if not c.trial.baseline]
    assert [c.trial.label for c in longest_first(costs)] == [c.trial.label for c in longest_first(list(reversed(costs)))]


def test_cpu_study_is_ordered_by_flops_and_says_gpu_figures_do_not_apply():
    study = load_study(ROOT / "configs/smoke.yaml")
    summary = plan_summary(study, expand_trials(study))
    flops = [run["flops"] for run in summary["runs"]]
    assert flops == sorted(flops, reverse=True) and summary["runs"][0]["model"] == "tiny-m"
    assert "no run asks for GPUs (a CPU study), so GPU-hours and makespan do not apply" in format_plan(summary)


def test_posttrainer_guide_is_the_dose_design_on_three_tasks_single_and_multi_task_and_three_models():
    study = load_study(ROOT / "configs/posttrainer_guide.yaml")
    trials = expand_trials(study)
    training = [t for t in trials if not t.baseline]
    single = [t for t in training if t.task != "multitask"]
    assert len(single) == 3 * 3 * 5 and len(trials) - len(training) == 3 * 3  # models × tasks × doses (+ baselines)
    assert len(training) - len(single) == 3 * 5  # one multi-task run per model and dose
    multi = next(t for t in training if t.task == "multitask" and t.mixture == "dose-5000" and t.model.name == "aya-23-8b")
    assert set(multi.tasks) == {"summarization", "instruction", "math"} and multi.counts["es"] == 3 * 5000
    counts = {t.mixture: t.counts for t in training if t.task == "math" and t.model.name == "aya-23-35b"}
    assert counts["dose-0"] == {"en": 5000}
    assert counts["dose-1000"] == {"en": 5000, "es": 1000, "fr": 1000, "ja": 1000, "zh": 1000}
    big = next(t for t in training if t.model.name == "aya-23-35b")
    assert big.resources.gpus == 16 and (big.train.schedule, big.train.select_by, big.train.global_batch) == ("constant", "val_loss", 64)
    assert study.eval.wrong_language_scores_zero and "de" not in study.eval.language_list()  # XLSum has no German
    assert {task: spec.train.format for task, spec in study.data.sources.items()} == {
        "summarization": "xlsum", "instruction": "aya_dolly", "math": "mcot_math"}


def test_a_one_cpu_worker_job_trains_in_its_trial_process_which_holds_the_workers_cpus():
    from search.runs.cluster import trial_resources

    raw = yaml.safe_load((ROOT / "configs/smoke.yaml").read_text())
    in_trial = expand_trials(parse_study(raw))
    assert all(t.in_trial_process for t in in_trial)  # the embedded default: 1 CPU worker, DDP
    request, fits, note = trial_resources(in_trial, {"CPU": 2})
    assert fits == 2 and note is None  # one logical CPU per trial: two at a time
    assert request({"trial": {"spec": in_trial[0].model_dump(mode="json")}}).bundles == [{"CPU": 1.0}]

    # Ray Train: asked for, several workers, or DeepSpeed; the trial holds 1 CPU, its workers theirs besides
    for change in ({"resources": {**raw["resources"], "trainer": "ray_train"}},
                   {"resources": {**raw["resources"], "workers_per_trial": 2}, "train": {**raw["train"], "global_batch": 64}},
                   {"train": {**raw["train"], "engine": "deepspeed"}}):
        trials = expand_trials(parse_study({**raw, **change}))
        assert not any(t.in_trial_process for t in trials), change
        request, fits, _ = trial_resources(trials, {"CPU": 6})
        workers = trials[0].resources.workers
        assert fits == 6 // (1 + workers) and request({"trial": {"spec": trials[0].model_dump(mode="json")}}).bundles == [{"CPU": 1.0}]
