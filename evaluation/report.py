"""The paper-style report of a study: Markdown tables and matplotlib figures from its results table.

Each analysis needs particular runs (an English-only run for the gains, runs leaving a language out for zero-shot,
enough rows for the regression); one that cannot be computed is named in the report with what it lacks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.analysis import (
    MATCH_MARGIN,
    bilingual_gains,
    coverage_curves,
    dose_curves,
    gain_summary,
    match_rates,
    pooled_regression,
    silent_tasks,
    single_vs_multi,
    transfer_matrix,
    zero_shot_vs_direct,
)
from evaluation.report_figures import (
    FIGURES,
    Report,
    plot_accuracy,
    plot_coverage,
    plot_doses,
    plot_gains,
    plot_regression,
    plot_transfer,
)
from evaluation.scorers import scorer_for
from evaluation.stats import mean_interval, wilson_interval
from training.languages import ALL_LANGUAGES
from training.tasks import get_task


def format_p(p: float) -> str:
    """One format for every p-value: three decimals, "< 0.001" below (never 1, 0.2 and 2.5e-05 side by side)."""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A Markdown table; "—" marks a value that is not defined (e.g. no interval from one run, no test without
    variance)."""
    def cell(value, column: str) -> str:
        if isinstance(value, (float, np.floating)):
            if np.isnan(value):
                return "—"
            return format_p(value) if column in ("p_value", "p_holm") else f"{value:.{digits}f}"
        return str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v, c) for v, c in zip(row, frame.columns)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def with_intervals(table: pd.DataFrame) -> pd.DataFrame:
    """Each (run, language) score with its 95% interval over its n test examples: Wilson where the task's scores are
    successes (0 or 1), a t interval from the scores' standard deviation where they are continuous (ROUGE-L, chrF;
    NaN for runs that did not log it); NaN where n is unknown or 0."""
    def interval(row) -> tuple[float, float]:
        if np.isnan(row["n"]) or row["n"] <= 0:
            return np.nan, np.nan
        n = int(row["n"])
        if not scorer_for(get_task(row["task"])).binary:
            return mean_interval(row["accuracy"], row["sd"], n)
        return wilson_interval(min(max(round(row["accuracy"] * n), 0), n), n)

    bounds = table.apply(interval, axis=1, result_type="expand") if len(table) else pd.DataFrame(columns=[0, 1])
    return table.assign(low=bounds[0], high=bounds[1])


def accuracy_table(table: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """One row per run (model, task, mixture in the study's order, the untrained model first), one column per
    evaluation language in ``order``: the accuracy alone (its interval is in accuracy.csv)."""
    wide = table.pivot_table(index=["model", "task", "mixture"], columns="lang", values="accuracy", aggfunc="first",
                             sort=False)
    wide = wide[[lang for lang in order if lang in wide.columns]]
    return wide.reset_index()


def write_report(table: pd.DataFrame, folder: Path, title: str, notes: list[str] = (), seed: int = 0,
                 languages: list[str] | None = None) -> Report:
    """Write ``report.md`` and the figures into ``folder``; ``notes`` (e.g. the runs still missing) go on top.
    ``languages``: the study's evaluation set, the only languages every table, average and test covers (None: the
    languages the runs were evaluated on)."""
    if languages is not None:
        table = table[table["lang"].isin(languages)]
    report = _empty_report(folder)
    # One language order everywhere: the study's, else the project's list of languages.
    order = list(languages) if languages is not None else [lang for lang in ALL_LANGUAGES if lang in set(table["lang"])]
    single = table[table["setting"] == "single"]  # the §1a analyses compare single-task runs
    silent = silent_tasks(table)
    compared = single[~single["task"].isin(silent)]  # what the comparisons and tests rest on
    sections = (_overview(table, title, notes, silent, languages) + _accuracy_section(single, report, order)
                + _coverage_section(single, report) + _gains_section(compared, report, order)
                + _zero_shot_section(compared, report) + _regression_section(compared, report, seed)
                + _posttrainer_sections(table, report, silent, order))
    (folder / "report.md").write_text("\n".join(sections), encoding="utf-8")
    report.files.insert(0, "report.md")
    return report


def _empty_report(folder: Path) -> Report:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("report.md", "accuracy.csv", *FIGURES):  # a file of an earlier report must not outlive its analysis
        (folder / name).unlink(missing_ok=True)
    return Report(folder)


def _overview(table: pd.DataFrame, title: str, notes: list[str], silent: dict[str, int],
              languages: list[str] | None) -> list[str]:
    """The title, the tasks without signal and the caller's notes, then what the report rests on."""
    evaluated = [lang for lang in (languages or ALL_LANGUAGES) if lang in set(table["lang"])]
    runs = table.drop_duplicates("run_id")
    multi = int((runs["setting"] == "multi").sum())
    return [f"# {title}", "",
            *(f"- **No signal: {task}** — every one of its {count} runs scored 0 in every evaluation language; "
              "it is left out of the comparisons, the tests and the regression below." for task, count in silent.items()),
            *(f"- {note}" for note in notes),
            "", f"{len(runs)} finished runs ({int(runs['baseline'].sum())} pretrained-only"
            + (f", {multi} multi-task" if multi else "") + f"), {runs['model'].nunique()} models, "
            f"{table['task'].nunique()} tasks; evaluation languages: {', '.join(evaluated)}"
            + (" (the study's eval.languages)." if languages is not None else " (those the runs were evaluated on).")
            + (" The sections before the Post-trainer's Guide ones compare single-task runs." if multi else "")]


def _accuracy_section(single: pd.DataFrame, report: Report, order: list[str]) -> list[str]:
    if single.empty:
        return []
    intervals = with_intervals(single)[["model", "task", "mixture", "lang", "accuracy", "n", "low", "high"]]
    intervals.to_csv(report.folder / "accuracy.csv", index=False, float_format="%.4f")
    report.files.append("accuracy.csv")
    plot_accuracy(single, report, order)
    n = sorted({int(v) for v in single["n"] if not np.isnan(v)})
    widest = float((intervals["high"] - intervals["low"]).max() / 2) if n else float("nan")
    about_n = (f"n = {'/'.join(map(str, n))} test examples per cell; the 95% interval of a cell (Wilson for success "
               f"rates, t for continuous scores) is up to "
               f"±{widest:.2f}; every interval is in accuracy.csv" if n else "n unknown for these runs")
    return ["", "## Accuracy per language", "", f"Accuracy of each run on each evaluation language ({about_n}).", "",
            markdown_table(accuracy_table(single, order), digits=2), "", "![](accuracy_heatmap.png)", ""]


def _coverage_section(single: pd.DataFrame, report: Report) -> list[str]:
    curves = coverage_curves(single)
    plot_coverage(curves, report)
    return ["## Accuracy vs number of training languages", "",
            "Mean over runs of each run's average accuracy over the evaluation languages; 0 = pretrained only "
            "(95% bootstrap interval across runs). A point differs from the next in training examples as well as "
            "in languages where `examples` says so (the figure labels each point with them): a rise may come "
            "from more data, not more languages.", "", markdown_table(curves), "", "![](coverage_curves.png)", ""]


def _gains_section(compared: pd.DataFrame, report: Report, order: list[str]) -> list[str]:
    gains = bilingual_gains(compared)
    sections = ["## Bilingual (English + one) vs English-only", ""]
    if gains.empty:
        report.skipped["bilingual gains"] = "needs an English-only run and English+one runs of the same model and task"
        return sections + [f"Not computed: {report.skipped['bilingual gains']}.", ""]
    plot_gains(gains, report, order)
    plot_transfer(transfer_matrix(gains), report, order)
    return sections + [
        "Gain = accuracy of the English+X run minus the English-only run on the same evaluation language; "
        "direct: the language added, transfer: languages in neither run, english: English itself. "
        "The unit is the run pair (model, task, X): its languages are averaged first, and `pairs` is n. "
        "Median with a 95% bootstrap interval resampling models (with at least 5 models); mean with a 95% t interval and a "
        "two-sided t-test of no gain, standard errors clustered by model (`models`: the pairs of one model "
        "share its English-only run); win rate (gain > 0) over pairs with a 95% Wilson interval. `p_holm`: the "
        "p-value after Holm's correction across this table's tests (one family).", "",
        markdown_table(gain_summary(gains)), "",
        "![](gains_by_language.png)", "", "![](transfer_heatmap.png)", ""]


def _zero_shot_section(compared: pd.DataFrame, report: Report) -> list[str]:
    comparison = zero_shot_vs_direct(compared)
    sections = ["## Zero-shot at high diversity vs bilingual direct exposure", ""]
    if comparison.empty:
        report.skipped["zero-shot vs direct"] = ("needs an English+X run and a run of more than two languages leaving X "
                                                 "out, for the same model and task")
        return sections + [f"Not computed: {report.skipped['zero-shot vs direct']}.", ""]
    return sections + [
        "Matched: zero-shot on X (the runs with the most training languages that leave X out) is non-inferior to "
        f"the English+X run on X at a margin of {MATCH_MARGIN}: the one-sided 95% lower bound of zero-shot − direct "
        "(`diff_low`; Newcombe's interval for success rates, a normal one from the scores' deviations for continuous "
        "scores; the unit is the test example, repeated runs pooled) is above "
        f"−{MATCH_MARGIN}. At n = 250 per side even equal accuracies near 0.5 give a bound of about −0.07: a "
        "match needs more test examples or repeats, not a closer point estimate. The rates' Wilson intervals count "
        "comparisons as independent, which those of one model are not.", "", markdown_table(match_rates(comparison)),
        "", markdown_table(comparison), ""]


def _regression_section(compared: pd.DataFrame, report: Report, seed: int) -> list[str]:
    sections = ["## Pooled regression", ""]
    try:
        regression = pooled_regression(compared, seed=seed)
    except ValueError as error:
        report.skipped["regression"] = str(error)
        return sections + [f"Not computed: {error}.", ""]
    plot_regression(regression.coefficients, report)
    dropped = "".join(f" Left out: {term} ({why})." for term, why in regression.dropped.items())
    return sections + [
        f"OLS of accuracy on one row per (run, evaluation language), fitted on the rows of a seeded 70% of "
        f"the runs ({regression.runs_train} runs, {regression.n_train} rows); out-of-sample R² on the other "
        f"runs ({regression.runs_test} runs, {regression.n_test} rows): **{regression.r2_out_of_sample:.3f}** "
        f"(in-sample {regression.r2_in_sample:.3f}). 95% intervals and p-values with standard errors clustered by "
        f"model, t with models − 1 degrees of freedom: a run's languages share its training and a model's runs share "
        f"what it knows of each language, so only whole models are independent. Size and family, which vary only "
        f"between models, come from the models alone (each model's intercept, then a regression of those on them). "
        f"**These effects rest on {regression.models} models** (`clusters`); with fewer than about 5 the intervals are "
        f"wide by necessity. `p_holm`: Holm's correction across the terms' tests (one family, the intercept "
        f"aside).{dropped}", "",
        markdown_table(regression.coefficients), "", "![](regression_coefficients.png)", ""]


def _posttrainer_sections(table: pd.DataFrame, report: Report, silent: dict[str, int], order: list[str]) -> list[str]:
    """The Post-trainer's Guide's comparisons (docs/studies.md §1b), where the study has them: dose curves, single- vs
    multi-task, and the language fidelity of the responses."""
    sections = []
    curves = dose_curves(table)
    if not curves.empty:
        plot_doses(curves, report)
        sections += ["", "## Dose curves", "", "Score against the examples per dosed language (0 = the base alone); seen: "
                     "the dosed languages, base: trained at every dose, unseen: never trained. Mean over the group's "
                     "languages; the 95% bootstrap interval across them is their spread within one run per dose, not "
                     "an interval for a repeated run.", "", markdown_table(curves), "", "![](dose_curves.png)"]
    if (table["setting"] == "multi").any():
        comparison = single_vs_multi(table[~table["task"].isin(silent)])
        sections += ["", "## Multi-task vs single-task training", ""]
        if comparison.empty:
            why = ("every task is without signal" if set(table["task"]) <= set(silent)
                   else "needs the same mixture trained single- and multi-task")
            report.skipped["multi- vs single-task"] = why
            sections += [f"Not computed: {why}."]
        else:
            sections += ["The unit is the run pair: the same model, mixture and task trained single- and multi-task, its "
                         "evaluation languages averaged first (`pairs` is n). Median difference multi − single (95% "
                         "bootstrap interval across pairs), mean with a 95% t interval and a two-sided t-test of no "
                         "difference, win rate of multi-task (95% Wilson interval); `p_holm`: Holm's correction across "
                         "this table's tests (one family).", "", markdown_table(comparison)]
    fidelity = table[~table["baseline"] & table["fidelity"].notna()]
    if not fidelity.empty:
        pivot = fidelity.pivot_table(index=["task", "setting"], columns="lang", values="fidelity", aggfunc="mean")
        pivot = pivot[[lang for lang in order if lang in pivot.columns]]
        sections += ["", "## Language fidelity", "", "Share of responses written in the prompt's language (lingua), mean "
                     "over runs.", "", markdown_table(pivot.reset_index())]
    return sections + _unparsed_section(table, order)


def _unparsed_section(table: pd.DataFrame, order: list[str]) -> list[str]:
    """Per model, task and language, the share of responses with no answer to score (no number, no call): a language
    that scores low because its answers go unparsed has a format problem, not a reasoning one."""
    logged = table[table["unparsed"].notna()]
    if logged.empty:
        return []
    pivot = logged.pivot_table(index=["model", "task"], columns="lang", values="unparsed", aggfunc="mean", sort=False)
    pivot = pivot[[lang for lang in order if lang in pivot.columns]]
    return ["", "## Unparsed answers", "", "Share of test responses with no answer to score (math: no number; API "
            "calling: no well-formed call), mean over the model's runs of the task, the untrained base included. They "
            "score 0.", "", markdown_table(pivot.reset_index(), digits=2)]
