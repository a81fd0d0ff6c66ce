"""The comparisons of "English is Not All You Need" (docs/studies.md §1a) and of the Post-trainer's Guide (§1b: dose curves,
single- vs multi-task), computed from a study's results table.

The results table has one row per (run, evaluation language), with the columns of ``RESULT_COLUMNS``:
``trained`` is the run's training languages joined by commas ("" for a pretrained-only baseline), ``examples`` its
training examples (0 for a baseline; NaN where unknown), ``n`` the test examples behind ``accuracy``. Where several runs share a model, task and set of training languages (mixtures of
different sizes or ratios), their accuracies are averaged before runs are compared.

The unit of every test is stated where it is made. Comparisons of two runs (bilingual vs English-only, multi- vs
single-task) are made over run pairs: a pair's languages are averaged first, since they share both trainings. The
pooled regression has one row per (run, language) but clusters its standard errors by run and splits train and test
by run. A task whose every run scored 0 in every language carries no signal (``silent_tasks``): it is named and left
out of the comparisons, instead of counting as ties or as matches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm

from evaluation.scorers import scorer_for
from evaluation.stats import (
    bootstrap_interval,
    cluster_bootstrap,
    clustered_mean,
    difference_lower_bound,
    holm,
    wilson_interval,
    win_rate,
)
from training.languages import LANGUAGES
from training.tasks import get_task

RESULT_COLUMNS = ["run_id", "model", "family", "params", "task", "mixture", "trained", "n_trained", "examples", "baseline",
                  "lang", "accuracy", "n", "sd", "setting", "dose", "dosed", "fidelity", "unparsed"]
# setting: "single" (one task per run) or "multi" (the run trained on several tasks; one row per task); dose: the
# examples per dosed language of a dose-design run (NaN otherwise); dosed: the evaluation language is one of the
# design's dosed ("seen") languages; fidelity: share of responses in the prompt's language (NaN: not measured); sd:
# the standard deviation of the test scores behind ``accuracy`` (NaN in runs from before it was logged); unparsed: the
# share of responses with no answer to score (no number, no call; NaN for tasks that score every response).
# Zero-shot "matches" direct exposure when a non-inferiority test at this margin passes: the one-sided 95% lower
# bound of zero-shot − direct is above −MATCH_MARGIN (5 accuracy points). The earlier point rule (at most 0.01 below)
# sat far inside one accuracy's standard error (~0.03 at n = 250), so noise decided it.
MATCH_MARGIN = 0.05
SETTINGS = ("direct", "transfer", "english")  # the eval language was added / is in neither run / is English


def silent_tasks(table: pd.DataFrame) -> dict[str, int]:
    """Tasks with no signal: every run (baselines included) scored 0 in every evaluation language. ``{task: runs}``."""
    silent = {}
    for task, rows in table.groupby("task"):
        if (rows["accuracy"].fillna(0) == 0).all():
            silent[task] = rows["run_id"].nunique()
    return silent


def _mean_accuracy(table: pd.DataFrame) -> pd.Series:
    trained = table[~table["baseline"]]
    return trained.groupby(["model", "task", "trained", "lang"])["accuracy"].mean()


def bilingual_gains(table: pd.DataFrame) -> pd.DataFrame:
    """Every (model, task, added language X, eval language): accuracy of the EN+X run minus the English-only run."""
    accuracy = _mean_accuracy(table)
    rows = []
    for (model, task), runs in accuracy.groupby(level=["model", "task"]):
        runs = runs.droplevel(["model", "task"])
        if "en" not in runs.index.get_level_values("trained"):
            continue
        english_only = runs.loc["en"]
        for trained in runs.index.get_level_values("trained").unique():
            languages = trained.split(",")
            if len(languages) != 2 or "en" not in languages:
                continue
            added = next(lang for lang in languages if lang != "en")
            for lang, value in runs.loc[trained].items():
                if lang not in english_only.index:
                    continue
                setting = "direct" if lang == added else "english" if lang == "en" else "transfer"
                # rounded: equal accuracies (k/n) must give a gain of exactly 0, not float noise, for win/tie counts
                rows.append({"model": model, "task": task, "added": added, "lang": lang, "setting": setting,
                             "bilingual": value, "english_only": english_only[lang],
                             "gain": round(value - english_only[lang], 12)})
    return pd.DataFrame(rows, columns=["model", "task", "added", "lang", "setting", "bilingual", "english_only", "gain"])


def pair_gains(gains: pd.DataFrame) -> pd.DataFrame:
    """One row per run pair (model, task, added language) and setting: the mean gain over the pair's evaluation
    languages of that setting (direct and English: one language; transfer: every language neither run trains)."""
    return (gains.groupby(["task", "setting", "model", "added"], observed=True)
            .agg(gain=("gain", "mean"), languages=("lang", "nunique")).reset_index())


def gain_summary(gains: pd.DataFrame) -> pd.DataFrame:
    """Per task and setting, over run pairs: the median gain with a bootstrap interval resampling models, the mean
    gain with a t interval and a two-sided t-test of no gain, both with standard errors clustered by model (the
    English+X pairs of one model share its English-only run), and the win rate with its Wilson interval."""
    rows = []
    for (task, setting), pairs in pair_gains(gains).groupby(["task", "setting"], sort=False):
        low, high = cluster_bootstrap(pairs["gain"], pairs["model"])
        mean = clustered_mean(pairs["gain"], pairs["model"])
        wins = win_rate(pairs["gain"].round(12))  # equal accuracies are a tie, not float noise
        rows.append({"task": task, "setting": setting, "pairs": len(pairs), "models": mean.groups,
                     "median_gain": pairs["gain"].median(), "median_low": low, "median_high": high,
                     "mean_gain": mean.mean, "mean_low": mean.low, "mean_high": mean.high, "ties": wins.ties,
                     "win_rate": wins.rate, "win_low": wins.low, "win_high": wins.high, "p_value": mean.p_value})
    columns = ["task", "setting", "pairs", "models", "median_gain", "median_low", "median_high", "mean_gain", "mean_low",
               "mean_high", "ties", "win_rate", "win_low", "win_high", "p_value"]
    summary = pd.DataFrame(rows, columns=columns)
    summary["p_holm"] = holm(summary["p_value"])  # the table's tests are one family
    summary["setting"] = pd.Categorical(summary["setting"], SETTINGS, ordered=True)
    return summary.sort_values(["task", "setting"], ignore_index=True)


def coverage_curves(table: pd.DataFrame) -> pd.DataFrame:
    """Accuracy against the number of training languages (0 = pretrained only), per model and task: the mean over
    runs of each run's average accuracy over the evaluation languages, with a bootstrap interval across runs.
    ``examples``: the training examples of the point's runs (their distinct values), since a point may differ from the
    next in data as well as in languages."""
    per_run = table.groupby(["model", "task", "n_trained", "run_id"], dropna=False).agg(
        accuracy=("accuracy", "mean"), examples=("examples", "first"))
    rows = []
    for (model, task, n_trained), runs in per_run.groupby(level=["model", "task", "n_trained"]):
        accuracy = runs["accuracy"]
        low, high = bootstrap_interval(accuracy.to_numpy(), np.mean) if len(runs) > 1 else (np.nan, np.nan)
        examples = sorted({int(e) for e in runs["examples"] if not pd.isna(e)})
        rows.append({"model": model, "task": task, "n_trained": int(n_trained), "examples": "/".join(map(str, examples)) or "?",
                     "runs": len(runs), "accuracy": accuracy.mean(), "low": low, "high": high})
    return pd.DataFrame(rows, columns=["model", "task", "n_trained", "examples", "runs", "accuracy", "low", "high"])


def zero_shot_vs_direct(table: pd.DataFrame, margin: float = MATCH_MARGIN) -> pd.DataFrame:
    """Per (model, task, language X ≠ en): the bilingual EN+X run's accuracy on X (direct exposure) against the
    runs with the most training languages that leave X out (zero-shot at high diversity). ``diff_low``: the one-sided
    95% lower bound of zero-shot − direct (the test examples of repeated runs pooled); ``matched`` when it is above
    ``-margin`` (non-inferiority; False where n is unknown)."""
    trained = table[~table["baseline"]]
    cells = trained.groupby(["model", "task", "trained", "lang"]).agg(
        accuracy=("accuracy", "mean"), n=("n", "sum"), sd=("sd", "mean")).reset_index()
    cells["languages"] = cells["trained"].str.split(",")
    rows = []
    for (model, task), runs in cells.groupby(["model", "task"]):
        binary = scorer_for(get_task(task)).binary
        for lang in sorted(set(runs["lang"]) - {"en"}):
            direct = runs[((runs["trained"] == f"en,{lang}") | (runs["trained"] == f"{lang},en")) & (runs["lang"] == lang)]
            zero_shot = runs[(runs["lang"] == lang) & ~runs["languages"].map(lambda langs, lang=lang: lang in langs)]
            if direct.empty or zero_shot.empty:
                continue
            width = zero_shot["languages"].map(len)
            most = zero_shot[width == width.max()]
            if width.max() <= 2:  # not more diverse than a bilingual run
                continue
            pooled = [(group["accuracy"].mean(), group["n"].sum(min_count=1), group["sd"].mean()) for group in (most, direct)]
            rows.append({"model": model, "task": task, "lang": lang, "resource": LANGUAGES[lang].resource,
                         "n_trained": int(width.max()), "direct": pooled[1][0], "zero_shot": pooled[0][0],
                         "diff_low": difference_lower_bound(*pooled, binary=binary)})
    result = pd.DataFrame(rows, columns=["model", "task", "lang", "resource", "n_trained", "direct", "zero_shot",
                                         "diff_low"])
    result["matched"] = result["diff_low"] > -margin
    return result


def match_rates(comparison: pd.DataFrame) -> pd.DataFrame:
    """Match-or-exceed rate by resource level, with Wilson intervals."""
    rows = []
    for resource, group in comparison.groupby("resource"):
        low, high = wilson_interval(int(group["matched"].sum()), len(group))
        rows.append({"resource": resource, "comparisons": len(group), "matched": int(group["matched"].sum()),
                     "rate": group["matched"].mean(), "low": low, "high": high})
    return pd.DataFrame(rows, columns=["resource", "comparisons", "matched", "rate", "low", "high"])


def transfer_matrix(gains: pd.DataFrame) -> pd.DataFrame:
    """Added training language × evaluation language: mean gain over English-only across models and tasks."""
    return gains.pivot_table(index="added", columns="lang", values="gain", aggfunc="mean")


@dataclass(frozen=True)
class Regression:
    # term, coef, low, high, p_value, clusters (what the standard error is clustered by: runs, or models for a term
    # constant within each model), p_holm
    coefficients: pd.DataFrame
    r2_in_sample: float
    r2_out_of_sample: float
    n_train: int  # rows (run × language) fitted
    n_test: int  # rows held out
    runs_train: int  # runs fitted
    runs_test: int  # runs held out, every row of a run on one side
    dropped: dict[str, str]  # term → why it was left out (no variation, e.g. one model family; or collinear)
    models: int  # models fitted: the clusters of the standard errors


def regression_design(table: pd.DataFrame) -> pd.DataFrame:
    """The pooled regression's terms (docs/studies.md §1a), one row per (run, evaluation language).

    Categorical terms are indicators against the alphabetically first level (family ``gemma`` vs ``qwen`` gives
    ``family=qwen``; task ``api`` vs ``math`` gives ``task=math``); coverage is √(L / L_max) over the study's runs.
    """
    design = pd.DataFrame(index=table.index)
    design["log10_size"] = np.log10(table["params"].astype(float) / 1e9)
    for column in ("family", "task"):
        levels = sorted(table[column].unique())
        for level in levels[1:] or levels:  # one level only: an all-ones column, left out below and reported
            design[f"{column}={level}"] = (table[column] == level).astype(float)
    design["pretrained_only"] = table["baseline"].astype(float)
    design["eval_lang_in_training"] = [float(lang in trained.split(",")) for lang, trained in zip(table["lang"], table["trained"])]
    design["coverage"] = np.sqrt(table["n_trained"] / max(table["n_trained"].max(), 1))
    return design


def pooled_regression(table: pd.DataFrame, seed: int = 0, train_fraction: float = 0.7,
                      confidence: float = 0.95) -> Regression:
    """OLS of accuracy on the design's terms over (run, language) rows, fitted on the rows of a seeded
    ``train_fraction`` of the runs, R² on the other runs' rows (a run's rows never sit on both sides of the split).
    Standard errors are clustered by model (statsmodels' cluster-robust covariance, t with models − 1 degrees of
    freedom); a term constant within each model (its size, its family) is estimated from the models alone
    (:func:`_between_models`). Each term's ``clusters`` says how many models it rests on."""
    table = table.reset_index(drop=True)
    design = regression_design(table)
    dropped, kept = {}, []
    for term in design:  # a term the study cannot separate from the ones before it has no estimable coefficient
        if design[term].nunique() < 2:
            dropped[term] = "no variation in this study"
        elif np.linalg.matrix_rank(sm.add_constant(design[kept + [term]], has_constant="add").to_numpy()) < len(kept) + 2:
            dropped[term] = f"collinear with {', '.join(kept)} in this study"
        else:
            kept.append(term)
    design = sm.add_constant(design[kept], has_constant="add")
    runs = table["run_id"].unique()
    shuffled = runs[np.random.default_rng(seed).permutation(len(runs))]
    cut = int(round(train_fraction * len(runs)))
    fitted_runs = set(shuffled[:cut])
    in_train = table["run_id"].isin(fitted_runs).to_numpy()
    train, test = np.flatnonzero(in_train), np.flatnonzero(~in_train)
    if cut < 3 or len(runs) - cut < 2 or len(train) <= design.shape[1]:
        raise ValueError(f"{len(runs)} runs ({len(design)} rows) are too few to fit {design.shape[1]} terms on "
                         f"{train_fraction:.0%} of the runs and test on the rest")
    y = table["accuracy"].astype(float).to_numpy()
    rows = table.iloc[train]
    # Clustered by model: a run's languages share its training, and a model's runs share what it knows of each
    # language (its rows in one language are alike in every run), so only whole models are independent. A study
    # of one model speaks of that model only: its runs are the units.
    one_model = rows["model"].nunique() < 2
    fit = _clustered_fit(y[train], design.iloc[train], rows["run_id"] if one_model else rows["model"])
    predicted = fit.predict(design.iloc[test])
    residual = np.sum((y[test] - predicted) ** 2)
    total = np.sum((y[test] - y[test].mean()) ** 2)
    coefficients = _coefficients(fit, confidence, f"{cut} runs of one model" if one_model
                                 else f"{rows['model'].nunique()} models")
    # A term constant within each model (size, family) is evidence from the models alone (docs/validity.md).
    between = [term for term in kept if design[term].iloc[train].groupby(rows["model"].to_numpy()).nunique().max() == 1]
    if between:
        coefficients = coefficients.set_index("term")
        by_model = _between_models(y[train], design.iloc[train], rows["model"], between, confidence)
        coefficients.loc[between] = by_model.loc[between, coefficients.columns]
        coefficients = coefficients.reset_index()
    terms = coefficients["term"] != "const"  # the family: every term's test of no effect (not the intercept's)
    coefficients.loc[terms, "p_holm"] = holm(coefficients.loc[terms, "p_value"])
    return Regression(coefficients, float(fit.rsquared), float(1 - residual / total), len(train), len(test), cut,
                      len(runs) - cut, dropped, rows["model"].nunique())


def _between_models(y, design: pd.DataFrame, models: pd.Series, between: list[str], confidence: float) -> pd.DataFrame:
    """The terms constant within each model, estimated from the models alone, in two steps: each model's intercept
    from a fit of the other terms with one intercept per model, then OLS of those intercepts on ``between``, t with
    models − terms − 1 degrees of freedom (NaN intervals when none is left). At 5 models with model effects
    (benchmarks/few_clusters.py) this covers ~0.95; clustered by run, which read 5 models' size and family off ~150
    runs, 0.39-0.45, and clustered by model in one fit (CR1 with 5 clusters) 0.72-0.77."""
    within = [term for term in design if term not in between and term != "const"]
    per_model = pd.get_dummies(models.to_numpy(), dtype=float).set_index(design.index)
    intercepts = sm.OLS(y, pd.concat([design[within], per_model], axis=1)).fit().params[per_model.columns]
    levels = design[between].groupby(models.to_numpy()).first().loc[per_model.columns]
    fit = sm.OLS(intercepts.to_numpy(), sm.add_constant(levels, has_constant="add")).fit()
    if fit.df_resid < 1:  # as many terms as models: an estimate, no interval
        return pd.DataFrame({"coef": fit.params, "low": np.nan, "high": np.nan, "p_value": np.nan,
                             "clusters": f"{len(levels)} models"})
    return _coefficients(fit, confidence, f"{len(levels)} models").set_index("term")


def _clustered_fit(y, design: pd.DataFrame, groups: pd.Series):
    """OLS with standard errors clustered by ``groups`` (statsmodels' CR1, t with groups − 1 degrees of freedom)."""
    return sm.OLS(y, design).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(groups)[0]}, use_t=True)


def _coefficients(fit, confidence: float, clusters: str) -> pd.DataFrame:
    intervals = fit.conf_int(alpha=1 - confidence)
    return pd.DataFrame({"term": fit.params.index, "coef": fit.params.to_numpy(), "low": intervals[0].to_numpy(),
                         "high": intervals[1].to_numpy(), "p_value": fit.pvalues.to_numpy(), "clusters": clusters})


def language_group(row) -> str:
    """In a dose design: ``seen`` = a dosed language, ``base`` = trained in every dose (e.g. English), ``unseen``."""
    if row["dosed"]:
        return "seen"
    return "base" if row["lang"] in row["trained"].split(",") else "unseen"


def dose_curves(table: pd.DataFrame) -> pd.DataFrame:
    """The Post-trainer's Guide's dose curves: score against the examples per dosed language, per model, task,
    setting (single- or multi-task) and language group (seen / base / unseen), with a bootstrap interval across the
    group's languages."""
    runs = table[~table["baseline"] & table["dose"].notna()].copy()
    columns = ["model", "task", "setting", "group", "dose", "languages", "accuracy", "low", "high"]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    runs["group"] = runs.apply(language_group, axis=1)
    rows = []
    for (model, task, setting, group, dose), rows_ in runs.groupby(["model", "task", "setting", "group", "dose"]):
        per_lang = rows_.groupby("lang")["accuracy"].mean().to_numpy()
        low, high = bootstrap_interval(per_lang, np.mean) if len(per_lang) > 1 else (np.nan, np.nan)
        rows.append({"model": model, "task": task, "setting": setting, "group": group, "dose": int(dose),
                     "languages": len(per_lang), "accuracy": per_lang.mean(), "low": low, "high": high})
    return pd.DataFrame(rows, columns=columns)


def single_vs_multi(table: pd.DataFrame) -> pd.DataFrame:
    """Multi-task against single-task training, per model and task, over run pairs (the same mixture trained both
    ways): each pair's difference (multi − single) averaged over its evaluation languages first; the median with a
    bootstrap interval across pairs, the mean with a t interval and a two-sided t-test of no difference, the win rate
    of multi-task with its Wilson interval."""
    runs = table[~table["baseline"]]
    keys = ["model", "task", "mixture", "lang"]
    single = runs[runs["setting"] == "single"].groupby(keys)["accuracy"].mean()
    multi = runs[runs["setting"] == "multi"].groupby(keys)["accuracy"].mean()
    by_lang = pd.concat({"single": single, "multi": multi}, axis=1).dropna().reset_index()
    pairs = by_lang.groupby(["model", "task", "mixture"])[["single", "multi"]].mean().reset_index()
    pairs["diff"] = (pairs["multi"] - pairs["single"]).round(12)
    columns = ["model", "task", "pairs", "single", "multi", "median_diff", "median_low", "median_high", "mean_diff",
               "mean_low", "mean_high", "win_rate", "win_low", "win_high", "p_value"]
    rows = []
    for (model, task), group in pairs.groupby(["model", "task"]):
        low, high = bootstrap_interval(group["diff"].to_numpy()) if len(group) > 1 else (np.nan, np.nan)
        mean = clustered_mean(group["diff"], range(len(group)))  # each pair its own unit: distinct runs
        wins = win_rate(group["diff"])
        rows.append({"model": model, "task": task, "pairs": len(group), "single": group["single"].mean(),
                     "multi": group["multi"].mean(), "median_diff": group["diff"].median(), "median_low": low,
                     "median_high": high, "mean_diff": mean.mean, "mean_low": mean.low, "mean_high": mean.high,
                     "win_rate": wins.rate, "win_low": wins.low, "win_high": wins.high, "p_value": mean.p_value})
    comparison = pd.DataFrame(rows, columns=columns)
    comparison["p_holm"] = holm(comparison["p_value"])  # the table's tests are one family
    return comparison
