"""`polymix report` on runs whose accuracies follow the paper's pooled regression (docs/studies.md §1a), logged to MLflow the
way trials log them: the analysis recovers the coefficients, and the report writes every table and figure."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from evaluation.analysis import bilingual_gains, gain_summary, match_rates, pooled_regression, zero_shot_vs_direct
from evaluation.report import FIGURES
from ray_jobs.cli import main
from search.runs.designs import expand_trials
from search.runs.trial import trial_params
from search.study import load_study
from search.tracking import KIND_TAG, SPEC_HASH_TAG, Tracker, results_table
from training.languages import ALL_LANGUAGES

ROOT = Path(__file__).resolve().parents[1]
PAPER_FIGURES = [name for name in FIGURES if name != "dose_curves.png"]  # §1a's study has no dose design
# docs/studies.md §1a: log10(model size) 0.302, Qwen family 0.265, math task −0.207, pretrained-only −0.110,
# eval language in training 0.089, √(L/L_max) coverage 0.053.
PAPER = {"log10_size": 0.302, "family=qwen": 0.265, "task=math": -0.207, "pretrained_only": -0.110,
         "eval_lang_in_training": 0.089, "coverage": 0.053}
INTERCEPT, NOISE, TEST_EXAMPLES = 0.33, 0.02, 250
MISSING = 3  # planned runs left unrun: the study is "partially finished"


def paper_accuracy(params: float, family: str, task: str, baseline: bool, trained: list[str], lang: str) -> float:
    return (INTERCEPT + PAPER["log10_size"] * math.log10(params / 1e9) + PAPER["family=qwen"] * (family == "qwen")
            + PAPER["task=math"] * (task == "math") + PAPER["pretrained_only"] * baseline
            + PAPER["eval_lang_in_training"] * (lang in trained) + PAPER["coverage"] * math.sqrt(len(trained) / 10))


@pytest.fixture(scope="module")
def paper_runs(tmp_path_factory):
    """The 220-run study plus its 10 pretrained-only baselines, with synthetic accuracies, in a SQLite MLflow."""
    folder = tmp_path_factory.mktemp("paper")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    tracker = Tracker(uri)
    experiment_id = tracker.experiment_id("paper", folder / "artifacts")
    trials = expand_trials(load_study(ROOT / "configs/english_not_all.yaml"))
    parent_id, _ = tracker.parent_run(experiment_id, "synthetic", "paper", {"n_trials": len(trials)})
    tracker.log_text(parent_id, json.dumps([{"trial": t.label, "spec_hash": t.spec_hash} for t in trials]), "plan.json")
    rng = np.random.default_rng(0)
    for trial in trials[MISSING:]:
        family = "qwen" if trial.model.path.startswith("Qwen/") else "gemma"
        params = {**trial_params(trial), "model_params": int(trial.model.params), "model_family": family}
        run_id = tracker.client.create_run(experiment_id, run_name=trial.label.replace("/", "-"), tags={
            MLFLOW_PARENT_RUN_ID: parent_id, SPEC_HASH_TAG: trial.spec_hash, KIND_TAG: "trial"}).info.run_id
        tracker.log_params(run_id, params)
        accuracy = {lang: paper_accuracy(trial.model.params, family, trial.task, trial.baseline, list(trial.counts), lang)
                    + rng.normal(0, NOISE) for lang in ALL_LANGUAGES}
        tracker.log_metrics(run_id, {**{f"eval/acc/{lang}": a for lang, a in accuracy.items()},
                                     **{f"eval/n/{lang}": TEST_EXAMPLES for lang in ALL_LANGUAGES}})
        tracker.finish(run_id)
    tracker.finish(parent_id)
    return uri, trials


def test_regression_recovers_the_papers_coefficients(paper_runs):
    uri, trials = paper_runs
    table = results_table(Tracker(uri).trial_runs("paper"))
    assert len(table) == (len(trials) - MISSING) * len(ALL_LANGUAGES)
    regression = pooled_regression(table, seed=0)
    fitted = regression.coefficients.set_index("term")
    for term, true in PAPER.items():
        assert abs(fitted.loc[term, "coef"] - true) <= 0.02, (term, fitted.loc[term, "coef"], true)
        assert fitted.loc[term, "low"] < fitted.loc[term, "coef"] < fitted.loc[term, "high"]
    assert regression.dropped == {}
    terms = fitted.drop(index="const")  # Holm across the terms: never below a term's own p, the intercept aside
    assert (terms["p_holm"] >= terms["p_value"]).all() and math.isnan(fitted.loc["const", "p_holm"])
    runs = table["run_id"].nunique()  # the split is by run: a run's languages never sit on both sides
    assert regression.runs_train == round(0.7 * runs) and regression.runs_test == runs - regression.runs_train
    assert regression.n_train == regression.runs_train * len(ALL_LANGUAGES) and regression.n_test + regression.n_train == len(table)
    assert regression.r2_out_of_sample > 0.9  # the noise (σ 0.02) is small against the terms' spread


def test_paper_comparisons_on_the_synthetic_study(paper_runs):
    uri, _ = paper_runs
    table = results_table(Tracker(uri).trial_runs("paper"))
    summary = gain_summary(bilingual_gains(table)).set_index(["task", "setting"])
    coverage_step = PAPER["coverage"] * (math.sqrt(2 / 10) - math.sqrt(1 / 10))

    def tolerance(pairs, languages=1):  # 3 standard errors of a median of pair means of differences of N(0, NOISE²) draws
        return 3 * 1.2533 * NOISE * math.sqrt(2 / pairs / languages)

    for task in ("api", "math"):
        # adding X to English: the in-training term on X, the coverage step on every language
        direct, transfer = summary.loc[(task, "direct")], summary.loc[(task, "transfer")]
        assert direct["median_gain"] == pytest.approx(PAPER["eval_lang_in_training"] + coverage_step, abs=tolerance(direct["pairs"]))
        assert transfer["median_gain"] == pytest.approx(coverage_step, abs=3 * tolerance(transfer["pairs"], 9))
        assert transfer["mean_low"] < coverage_step < transfer["mean_high"]
        assert summary.loc[(task, "direct"), "win_rate"] == 1.0 and summary.loc[(task, "direct"), "p_value"] < 1e-3
    # The unit is the run pair: 4 bilingual mixtures × 5 models per task (a transfer pair's 9 languages neither run
    # trains are averaged first), 5 models the clusters; the runs left missing are qwen3-0.6b's math baseline,
    # English-only and en-es runs: no math pair for that model
    assert summary.loc[("api", "direct"), "pairs"] == 20 and summary.loc[("api", "transfer"), "pairs"] == 20
    assert summary.loc[("api", "transfer"), "models"] == 5
    assert summary.loc[("math", "direct"), "pairs"] == 16 and summary.loc[("math", "direct"), "models"] == 4
    comparison = zero_shot_vs_direct(table)
    # zero-shot at 9 languages lacks the in-training term (0.089) and gains 0.027 coverage: 0.062 below direct
    # exposure; with n = 250 a side no comparison can show non-inferiority at 0.05
    assert set(comparison["n_trained"]) == {9} and len(comparison) == 39  # es, ja, bn, sw × 5 models × 2 tasks, less the missing en-es
    assert (comparison["direct"] - comparison["zero_shot"]).mean() == pytest.approx(0.062, abs=0.01)
    rates = match_rates(comparison).set_index("resource")
    assert rates["matched"].sum() == 0 and (comparison["diff_low"] < -0.05).all()


@pytest.mark.parametrize("n, matched", [(250, False), (4000, True)])
def test_zero_shot_matches_direct_exposure_only_when_a_non_inferiority_test_says_so(n, matched):
    """Equal accuracies on es (0.6) from en+es and from en+ja+bn (which leaves es out): at 250 test examples a side
    the one-sided bound of the difference is below −0.05, at 4,000 (e.g. pooled repeats) above it."""
    from evaluation.analysis import RESULT_COLUMNS

    def row(run_id, trained, accuracy):
        return {"run_id": run_id, "model": "m", "family": "f", "params": 1e9, "task": "math", "mixture": trained,
                "trained": trained, "n_trained": trained.count(",") + 1, "examples": 1000, "baseline": False,
                "lang": "es", "accuracy": accuracy, "n": n, "sd": np.nan, "setting": "single", "dose": np.nan,
                "dosed": False, "fidelity": np.nan, "unparsed": np.nan}

    table = pd.DataFrame([row("a", "en,es", 0.6), row("b", "bn,en,ja", 0.6)], columns=RESULT_COLUMNS)
    comparison = zero_shot_vs_direct(table)
    assert len(comparison) == 1 and comparison.loc[0, "matched"] == matched
    assert comparison.loc[0, "zero_shot"] == comparison.loc[0, "direct"] == 0.6


def test_polymix_report_writes_markdown_and_every_figure_and_logs_them(paper_runs, tmp_path, capsys):
    uri, trials = paper_runs
    assert main(["--workdir", str(tmp_path), "report", "paper", "--tracking-uri", uri]) == 0
    printed = capsys.readouterr().out
    folder = tmp_path / "reports" / "paper"
    assert {p.name for p in folder.iterdir()} == {"report.md", "accuracy.csv", *PAPER_FIGURES}
    for figure in PAPER_FIGURES:
        assert (folder / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (folder / "report.md").read_text(encoding="utf-8")
    # one language order (the study's), runs in the study's order, plain accuracies in the table, their intervals
    # in accuracy.csv, one p-value format
    study_languages = "en es ja bn sw te fr de ru zh th".split()  # configs/english_not_all.yaml's eval.languages
    header = next(line for line in text.splitlines() if line.startswith("| model | task | mixture |"))
    assert header.split(" | ")[3:] == study_languages[:-1] + ["th |"], header
    accuracy = pd.read_csv(folder / "accuracy.csv")
    # (the synthetic accuracies are not k/n, and a few pass 1: the interval is of the nearest k/n in 0..n)
    slack, observed = 0.5 / accuracy["n"] + 1e-4, accuracy["accuracy"].clip(0, 1)
    inside = (accuracy["low"] <= observed + slack) & (observed <= accuracy["high"] + slack)
    assert inside.all(), accuracy[~inside].head()
    assert (accuracy["high"] - accuracy["low"] > 0).all()
    assert list(accuracy.drop_duplicates(["model", "task", "mixture"])[["model", "task", "mixture"]].itertuples(index=False, name=None)) == \
        [(t.model.name, t.task, t.mixture) for t in trials[MISSING:]]
    p_values = [line.split(" | ")[-1].rstrip(" |") for line in text.splitlines() if line.startswith("| math | direct")]
    assert p_values and all(p == "< 0.001" or (len(p) == 5 and p.startswith("0.")) for p in p_values), p_values
    assert f"{len(trials) - MISSING} finished, {MISSING} missing" in text and "not computed" not in printed
    for trial in trials[:MISSING]:
        assert f"missing: {trial.label} (not started)" in text
    for heading in ("## Accuracy per language", "![](accuracy_heatmap.png)", "Bilingual (English + one) vs English-only",
                    "Zero-shot at high diversity", "Pooled regression", "| eval_lang_in_training |"):
        assert heading in text
    client = MlflowClient(uri)
    parent = Tracker(uri).latest_parent(client.get_experiment_by_name("paper").experiment_id)
    logged = {a.path for a in client.list_artifacts(parent.run_id, "report")}
    assert logged == {f"report/{name}" for name in ("report.md", "accuracy.csv", *PAPER_FIGURES)}


def test_report_and_runs_on_an_unknown_experiment_are_a_clear_error_listing_the_known_ones(paper_runs, tmp_path, capsys):
    uri, _ = paper_runs
    for command in ("report", "runs"):
        assert main(["--workdir", str(tmp_path), command, "papr", "--tracking-uri", uri]) == 2, command
        err = capsys.readouterr().err
        assert "experiment 'papr' not found" in err and "known experiments: paper." in err, err


def test_runs_lists_the_study_in_its_own_order(paper_runs, tmp_path, capsys):
    uri, trials = paper_runs
    assert main(["--workdir", str(tmp_path), "runs", "paper", "--tracking-uri", uri]) == 0
    rows = [line.split()[:3] for line in capsys.readouterr().out.splitlines()[2:] if line.strip()]
    finished = trials[MISSING:]
    assert rows == [[t.model.name, t.task, t.mixture] for t in finished]  # as configs/english_not_all.yaml lists them
    assert rows != sorted(rows)


def test_regression_leaves_out_terms_the_study_cannot_separate(paper_runs):
    uri, _ = paper_runs
    table = results_table(Tracker(uri).trial_runs("paper"))
    one_family = table[table["family"] == "qwen"]  # and every trained run of it covers its in-training languages
    regression = pooled_regression(one_family, seed=1)
    assert regression.dropped == {"family=qwen": "no variation in this study"}
    assert "family=qwen" not in set(regression.coefficients["term"])
    bilingual_and_baseline = table[table["trained"].isin(["", "en,es", "en,ja", "bn,en", "en,sw"])
                                   & (table["model"] == "qwen3-8b")]
    regression = pooled_regression(bilingual_and_baseline)
    # one model: size and family do not vary; coverage is 0 exactly for the pretrained-only rows
    assert set(regression.dropped) == {"log10_size", "family=qwen", "coverage"}
    assert regression.dropped["coverage"] == "collinear with task=math, pretrained_only, eval_lang_in_training in this study"


def guide_accuracy(trial, task: str, lang: str, multi: bool) -> float:
    """A known law for the Post-trainer's Guide study: +1e-4 per example of a dosed language on that language,
    +0.05 on English (trained at every dose), +0.02 for multi-task training."""
    dosed = lang in trial.counts and lang != "en"
    return 0.3 + 1e-4 * trial.counts.get(lang, 0) * dosed / (3 if multi else 1) + 0.05 * (lang == "en") + 0.02 * multi


def test_dose_curves_and_multi_vs_single_task_from_a_guide_study(tmp_path):
    from evaluation.analysis import dose_curves, single_vs_multi
    from evaluation.report import write_report
    from search.runs.trial import eval_metrics

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri)
    experiment_id = tracker.experiment_id("guide", tmp_path / "artifacts")
    study = load_study(ROOT / "configs/posttrainer_guide.yaml")
    languages = study.eval.language_list()
    for trial in expand_trials(study):
        if trial.baseline:
            continue
        multi = bool(trial.tasks)
        # a math answer in ja goes unparsed a quarter of the time
        unparsed = lambda task, lang: {"unparsed": 0.25 if lang == "ja" else 0.0} if task == "math" else {}
        results = {task: {lang: {"accuracy": guide_accuracy(trial, task, lang, multi), "n": 100,
                                 "metrics": unparsed(task, lang),
                                 "fidelity": 0.9, "fidelity_judged": 100} for lang in languages} for task in trial.task_counts()}
        run_id = tracker.client.create_run(experiment_id, tags={SPEC_HASH_TAG: trial.spec_hash, KIND_TAG: "trial"}).info.run_id
        tracker.log_params(run_id, {**trial_params(trial), "model_params": int(trial.model.params), "model_family": "aya"})
        tracker.log_metrics(run_id, eval_metrics(trial, results))
        tracker.finish(run_id)
    table = results_table(Tracker(uri).trial_runs("guide"))
    assert len(table) == (45 + 15 * 3) * len(languages)  # single runs + multi-task runs × their 3 tasks, per language
    curves = dose_curves(table).set_index(["model", "task", "setting", "group", "dose"])
    seen = curves.loc[("aya-23-8b", "math", "single", "seen")]
    # es fr ja zh: 1e-4 per example; the multi-task run's counts sum three tasks' examples (hence the / 3 in the law)
    assert seen["accuracy"].to_dict() == pytest.approx({0: 0.3, 100: 0.31, 400: 0.34, 1000: 0.4, 5000: 0.8})
    assert curves.loc[("aya-23-8b", "math", "multi", "seen", 1000), "accuracy"] == pytest.approx(0.42)
    assert curves.loc[("llama-3.1-8b", "summarization", "single", "unseen"), "accuracy"].tolist() == pytest.approx([0.3] * 5)
    assert curves.loc[("llama-3.1-8b", "summarization", "single", "base", 400), "accuracy"] == pytest.approx(0.35)
    assert (seen["languages"] == 4).all() and curves.loc[("aya-23-8b", "math", "single", "unseen", 0), "languages"] == 5
    comparison = single_vs_multi(table).set_index(["model", "task"])
    assert len(comparison) == 9 and (comparison["pairs"] == 5).all()  # run pairs: the 5 doses, languages averaged
    assert comparison["median_diff"].tolist() == pytest.approx([0.02] * 9) and (comparison["win_rate"] == 1.0).all()
    report = write_report(table, tmp_path / "report", "guide")
    text = (tmp_path / "report" / "report.md").read_text()
    assert "## Dose curves" in text and "## Multi-task vs single-task training" in text and "## Language fidelity" in text
    assert "dose_curves.png" in report.files and "60 finished runs (0 pretrained-only, 15 multi-task)" in text
    unparsed_rows = text.split("## Unparsed answers", 1)[1].split("\n\n")[2].splitlines()
    assert unparsed_rows[0].startswith("| model | task | ") and " ja " in unparsed_rows[0]
    ja = unparsed_rows[0].split(" | ").index("ja")
    assert {row.split(" | ")[1] for row in unparsed_rows[2:]} == {"math"}  # the only task that logged it
    assert {row.split(" | ")[ja] for row in unparsed_rows[2:]} == {"0.25"}
