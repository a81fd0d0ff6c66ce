"""How a training example becomes model inputs: loss on the target only, and what a too-long example keeps."""

import math
from pathlib import Path
from types import SimpleNamespace

from training.sft import tokenize


class CharTokenizer:
    """One id per character (BOS 1, EOS 2): lengths are the strings' lengths, so the arithmetic is visible."""

    eos_token_id = 2

    def __call__(self, text, add_special_tokens=True):
        return SimpleNamespace(input_ids=([1] if add_special_tokens else []) + [ord(c) for c in text])


def test_an_example_that_fits_keeps_every_token_and_masks_the_prompt():
    out = tokenize(CharTokenizer(), "Q: 2+3?", "5", 64)
    assert out["input_ids"] == [1, *map(ord, "Q: 2+3?"), ord("5"), 2]
    assert out["labels"] == [-100] * 8 + [ord("5"), 2]


def test_a_target_is_never_cut_so_the_model_learns_to_stop():
    """A long chain of thought keeps its EOS: the prompt gives up its middle first, down to a quarter of the budget;
    a target that leaves less room than that drops the example (None), which the run counts."""
    prompt = "Question:" + "q" * 40 + "Answer:"
    out = tokenize(CharTokenizer(), prompt, "x" * 40, 64)
    assert len(out["input_ids"]) == 64 and out["input_ids"][-41:] == [ord("x")] * 40 + [2]
    assert out["labels"][-41:] == [ord("x")] * 40 + [2] and out["labels"][:23] == [-100] * 23
    kept_prompt = "".join(chr(i) for i in out["input_ids"][1:23])
    assert kept_prompt.endswith("Answer:")  # the cue survives
    assert tokenize(CharTokenizer(), prompt, "x" * 50, 64) is None  # 13 tokens left for a prompt of 57: dropped
    assert tokenize(CharTokenizer(), "Q?", "x" * 50, 64)["input_ids"][-1] == 2  # a short prompt fits whole


def test_too_long_examples_are_dropped_and_counted_and_a_mixture_of_only_those_is_refused(sample_dir):
    import pytest

    from training.errors import DataError
    from training.settings import TrainSettings
    from training.sft import SFTJob, tokenized_mixture

    def job(max_seq_len: int) -> SFTJob:
        return SFTJob(model_path="unused", task="math", data_dir=str(sample_dir), counts={"en": 20},
                      train=TrainSettings(max_seq_len=max_seq_len))

    rows, dropped = tokenized_mixture(job(4096), CharTokenizer())
    assert (len(rows), dropped) == (20, 0)
    sizes = [(row["labels"].count(-100), len(row["input_ids"]) - row["labels"].count(-100)) for row in rows]
    limit = sorted(target for _, target in sizes)[10] * 4 // 3  # about half the targets leave too little room
    rows, dropped = tokenized_mixture(job(limit), CharTokenizer())
    expected = sum(target > limit - min(prompt, limit // 4) for prompt, target in sizes)
    assert 0 < dropped == expected < 20
    assert len(rows) == 20 - dropped and all(row["input_ids"][-1] == 2 and len(row["input_ids"]) <= limit for row in rows)
    with pytest.raises(DataError, match="raise train.max_seq_len"):
        tokenized_mixture(job(8), CharTokenizer())


def test_a_long_article_loses_its_middle_not_the_summary_nor_the_instruction_and_cue():
    prompt = "Summarize:" + "a" * 300 + "Summary:"
    out = tokenize(CharTokenizer(), prompt, "short summary", 64)
    target = [*map(ord, "short summary"), 2]
    assert len(out["input_ids"]) == 64 and out["input_ids"][-len(target):] == target
    assert out["labels"] == [-100] * (64 - len(target)) + target
    kept_prompt = "".join(chr(i) for i in out["input_ids"][1:64 - len(target)])
    assert kept_prompt.startswith("Summariz") and kept_prompt.endswith("aSummary:")  # head and cue survive


def test_a_multitask_mixture_holds_every_tasks_examples_in_its_own_format(sample_dir):
    from training.settings import TrainSettings
    from training.sft import SFTJob, tokenized_mixture

    job = SFTJob(model_path="unused", task="multitask", data_dir=str(sample_dir), counts={"en": 30, "ja": 10},
                 task_counts={"summarization": {"en": 20, "ja": 10}, "instruction": {"en": 10}},
                 train=TrainSettings(max_seq_len=4096))
    rows, dropped = tokenized_mixture(job, CharTokenizer())
    assert (len(rows), dropped) == (40, 0)
    prompts = ["".join(chr(i) for i, label in zip(row["input_ids"][1:], row["labels"][1:]) if label == -100) for row in rows]
    assert sum(p.startswith("Summarize the following article") for p in prompts) == 20  # en articles
    assert sum(p.startswith("次の記事を一文で要約してください") for p in prompts) == 10
    assert sum(not p.startswith(("Summarize", "次の記事")) for p in prompts) == 10  # the instruction prompts
    assert job.metric("loss", "instruction", "en") == "val/instruction/loss/en"
    assert SFTJob(model_path="m", task="math", data_dir="d", counts={"en": 1}).metric("loss", "math", "en") == "val/loss/en"


def test_a_multitask_run_logs_each_task_under_its_name_and_averages_the_tasks():
    from search.runs.designs import expand_trials
    from search.runs.trial import eval_metrics
    from search.study import load_study

    study = load_study(Path(__file__).resolve().parents[2] / "configs/posttrainer_smoke.yaml", ["multitask={}"])
    run = next(t for t in expand_trials(study) if t.task == "multitask" and t.mixture == "dose-64")
    result = lambda score, fidelity, judged=4: {"accuracy": score, "n": 4, "metrics": {"chrf": score / 2},
                                                 "fidelity": fidelity, "fidelity_judged": judged}
    results = {"summarization": {"en": result(0.4, 1.0), "ru": result(0.0, 0.5)},
               "instruction": {"en": result(0.5, 1.0), "ru": result(0.25, float("nan"), judged=0)}}
    metrics = eval_metrics(run, results)
    assert metrics["eval/summarization/acc/en"] == 0.4 and metrics["eval/instruction/avg_unseen"] == 0.25
    assert metrics["eval/summarization/chrf/ru"] == 0.0 and metrics["eval/summarization/fidelity/ru"] == 0.5
    assert math.isnan(metrics["eval/instruction/fidelity/ru"]) and metrics["eval/instruction/fidelity_judged/ru"] == 0
    assert metrics["eval/avg_seen"] == (0.4 + 0.5) / 2 and metrics["eval/avg"] == (0.2 + 0.375) / 2
    assert not any(key.startswith("eval/acc/") for key in metrics)  # per-task names only
    single = next(t for t in expand_trials(study) if t.task == "summarization" and t.mixture == "dose-64")
    assert set(eval_metrics(single, {"summarization": results["summarization"]})) >= {"eval/acc/en", "eval/chrf/ru",
                                                                                      "eval/fidelity/en", "eval/avg_seen"}


def test_a_checkpoint_records_the_job_flat_with_its_settings_among_the_run_fields():
    """polymix_job.json keeps the layout it had when the settings were SFTJob's own fields."""
    import json

    from training.settings import TrainSettings
    from training.sft import SFTJob

    job = SFTJob(model_path="m", task="math", data_dir="d", counts={"en": 1}, seed=3, train=TrainSettings(lr=2e-5),
                 objective_weights={"en": 1.0})
    record = job.record()
    assert list(record) == ["model_path", "task", "data_dir", "counts", "seed", *TrainSettings.model_fields,
                            "validation_languages", "objective_weights", "task_counts", "content_pool"]
    assert (record["seed"], record["lr"], record["epochs"], record["objective_weights"]) == (3, 2e-5, 3, {"en": 1.0})
    assert json.loads(json.dumps(record)) == record
