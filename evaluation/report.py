"""The paper-style report of a study: Markdown tables and matplotlib figures from its results table.

Each analysis needs particular runs (an English-only run for the gains, runs leaving a language out for zero-shot,
enough rows for the regression); one that cannot be computed is named in the report with what it lacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on cluster nodes or CI
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation.analysis import (
    MATCH_MARGIN,
    SETTINGS,
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
from evaluation.stats import wilson_interval
from training.languages import ALL_LANGUAGES

FIGURES = ("coverage_curves.png", "gains_by_language.png", "transfer_heatmap.png", "regression_coefficients.png",
           "dose_curves.png")


@dataclass
class Report:
    folder: Path
    files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # analysis → why it could not be computed


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    def cell(value, column: str) -> str:
        if isinstance(value, (float, np.floating)):
            if np.isnan(value):
                return "—"
            return f"{value:.2g}" if column == "p_value" else f"{value:.{digits}f}"  # small p-values stay readable
        return str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v, c) for v, c in zip(row, frame.columns)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def accuracy_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per run: accuracy per evaluation language with its 95% Wilson interval (when n is known)."""
    def cell(row) -> str:
        if np.isnan(row["n"]):
            return f"{row['accuracy']:.2f}"
        low, high = wilson_interval(min(max(round(row["accuracy"] * row["n"]), 0), int(row["n"])), int(row["n"]))
        return f"{row['accuracy']:.2f} ({low:.2f}–{high:.2f})"

    cells = table.assign(cell=table.apply(cell, axis=1))
    wide = cells.pivot_table(index=["model", "task", "mixture"], columns="lang", values="cell", aggfunc="first")
    wide = wide[[lang for lang in ALL_LANGUAGES if lang in wide.columns]]
    return wide.reset_index().sort_values(["model", "task", "mixture"]).fillna("—")


def _save(figure, report: Report, name: str) -> None:
    figure.tight_layout()
    figure.savefig(report.folder / name, dpi=120)
    plt.close(figure)
    report.files.append(name)


def plot_coverage(curves: pd.DataFrame, report: Report) -> None:
    tasks = sorted(curves["task"].unique())
    figure, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for model, curve in curves[curves["task"] == task].groupby("model"):
            curve = curve.sort_values("n_trained")
            ax.plot(curve["n_trained"], curve["accuracy"], marker="o", label=model)
            ax.fill_between(curve["n_trained"], curve["low"], curve["high"], alpha=0.15)
        values = curves.loc[curves["task"] == task, "accuracy"]
        ax.set_ylim(min(0.0, values.min() - 0.02), max(0.05, values.max() + 0.02))  # accuracy axes start at 0
        ax.set(title=f"{task}: accuracy vs training languages", xlabel="training languages (0 = pretrained only)",
               ylabel="mean accuracy over evaluation languages")
        ax.legend(fontsize=8)
    _save(figure, report, "coverage_curves.png")


def plot_doses(curves: pd.DataFrame, report: Report) -> None:
    """Colour: the language group; marker: the model; solid: single-task, dashed: multi-task."""
    tasks, models = sorted(curves["task"].unique()), sorted(curves["model"].unique())
    colours, markers = {"seen": "C0", "base": "C1", "unseen": "C2"}, "osD^vP*X"
    doses = sorted(curves["dose"].unique())
    figure, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for (model, setting, group), curve in curves[curves["task"] == task].groupby(["model", "setting", "group"]):
            curve = curve.sort_values("dose")
            ax.plot(curve["dose"], curve["accuracy"], color=colours.get(group, "C3"),
                    marker=markers[models.index(model) % len(markers)], linestyle="-" if setting == "single" else "--",
                    label=f"{model} {group} ({setting}-task)")
        positive = [dose for dose in doses if dose > 0]
        ax.set_xscale("symlog", linthresh=min(positive) if positive else 1)
        ax.set_xticks(doses, [str(dose) for dose in doses])
        ax.set(title=f"{task}: score vs dose", xlabel="examples per dosed language", ylabel="mean score over the group's languages")
        ax.legend(fontsize=7)
    _save(figure, report, "dose_curves.png")


def plot_gains(gains: pd.DataFrame, report: Report) -> None:
    """Median gain over English-only per language, one panel per setting, one bar colour per task."""
    tasks = sorted(gains["task"].unique())
    figure, axes = plt.subplots(1, len(SETTINGS), figsize=(15, 4), squeeze=False)
    for ax, setting in zip(axes[0], SETTINGS):
        subset = gains[gains["setting"] == setting]
        # direct and English: by the language added; transfer: by the evaluation language, over the languages added
        key = "lang" if setting == "transfer" else "added"
        medians = subset.groupby(["task", key])["gain"].median().unstack("task").reindex(columns=tasks)
        if not medians.empty:
            medians = medians.loc[[lang for lang in ALL_LANGUAGES if lang in medians.index]]
            positions = np.arange(len(medians))
            width = 0.8 / len(tasks)
            for offset, task in enumerate(tasks):
                ax.bar(positions + offset * width, medians[task].fillna(0), width, label=task)
            ax.set_xticks(positions + width * (len(tasks) - 1) / 2, medians.index)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set(title={"direct": "direct exposure (eval language added)", "transfer": "cross-lingual transfer (not trained)",
                      "english": "English"}[setting],
               xlabel="language added" if key == "added" else "evaluation language", ylabel="median gain vs English-only")
        ax.legend(fontsize=8)
    _save(figure, report, "gains_by_language.png")


def plot_transfer(matrix: pd.DataFrame, report: Report) -> None:
    rows = [lang for lang in ALL_LANGUAGES if lang in matrix.index]
    columns = [lang for lang in ALL_LANGUAGES if lang in matrix.columns]
    matrix = matrix.loc[rows, columns]
    bound = max(float(np.nanmax(np.abs(matrix.to_numpy()))), 1e-6)
    figure, ax = plt.subplots(figsize=(1.5 + 0.6 * len(columns), 1.2 + 0.5 * len(rows)))
    image = ax.imshow(matrix.to_numpy(dtype=float), cmap="RdBu", vmin=-bound, vmax=bound)
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(rows)), rows)
    ax.set(xlabel="evaluation language", ylabel="language added to English",
           title="gain over English-only (mean over models and tasks)")
    for i in range(len(rows)):
        for j in range(len(columns)):
            value = matrix.iat[i, j]
            if not np.isnan(value):
                ax.text(j, i, f"{value:+.2f}", ha="center", va="center", fontsize=7)
    figure.colorbar(image, ax=ax, fraction=0.046)
    _save(figure, report, "transfer_heatmap.png")


def plot_regression(coefficients: pd.DataFrame, report: Report) -> None:
    terms = coefficients[coefficients["term"] != "const"].iloc[::-1]
    figure, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(terms)))
    ax.errorbar(terms["coef"], range(len(terms)), xerr=[terms["coef"] - terms["low"], terms["high"] - terms["coef"]],
                fmt="o", capsize=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(terms)), terms["term"])
    ax.set(xlabel="coefficient on accuracy (95% interval)", title="pooled regression")
    _save(figure, report, "regression_coefficients.png")


def write_report(table: pd.DataFrame, folder: Path, title: str, notes: list[str] = (), seed: int = 0,
                 languages: list[str] | None = None) -> Report:
    """Write ``report.md`` and the figures into ``folder``; ``notes`` (e.g. the runs still missing) go on top.
    ``languages``: the study's evaluation set, the only languages every table, average and test covers (None: the
    languages the runs were evaluated on)."""
    if languages is not None:
        table = table[table["lang"].isin(languages)]
    report = _empty_report(folder)
    single = table[table["setting"] == "single"]  # the §1a analyses compare single-task runs
    silent = silent_tasks(table)
    compared = single[~single["task"].isin(silent)]  # what the comparisons and tests rest on
    sections = (_overview(table, title, notes, silent, languages) + _accuracy_section(single)
                + _coverage_section(single, report) + _gains_section(compared, report)
                + _zero_shot_section(compared, report) + _regression_section(compared, report, seed)
                + _posttrainer_sections(table, report, silent))
    (folder / "report.md").write_text("\n".join(sections), encoding="utf-8")
    report.files.insert(0, "report.md")
    return report


def _empty_report(folder: Path) -> Report:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("report.md", *FIGURES):  # a figure of an earlier report must not outlive its analysis
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


def _accuracy_section(single: pd.DataFrame) -> list[str]:
    return ["", "## Accuracy per language (95% Wilson intervals)", "", markdown_table(accuracy_table(single)), ""]


def _coverage_section(single: pd.DataFrame, report: Report) -> list[str]:
    curves = coverage_curves(single)
    plot_coverage(curves, report)
    return ["## Accuracy vs number of training languages", "",
            "Mean over runs of each run's average accuracy over the evaluation languages; 0 = pretrained only "
            "(95% bootstrap interval across runs).", "", markdown_table(curves), "", "![](coverage_curves.png)", ""]


def _gains_section(compared: pd.DataFrame, report: Report) -> list[str]:
    gains = bilingual_gains(compared)
    sections = ["## Bilingual (English + one) vs English-only", ""]
    if gains.empty:
        report.skipped["bilingual gains"] = "needs an English-only run and English+one runs of the same model and task"
        return sections + [f"Not computed: {report.skipped['bilingual gains']}.", ""]
    plot_gains(gains, report)
    plot_transfer(transfer_matrix(gains), report)
    return sections + [
        "Gain = accuracy of the English+X run minus the English-only run on the same evaluation language; "
        "direct: the language added, transfer: languages in neither run, english: English itself. "
        "The unit is the run pair (model, task, X): its languages are averaged first, and `pairs` is n. "
        "Median with a 95% bootstrap interval resampling models (with at least 5 models); mean with a 95% t interval and a "
        "two-sided t-test of no gain, standard errors clustered by model (`models`: the pairs of one model "
        "share its English-only run); win rate (gain > 0) over pairs with a 95% Wilson interval.", "",
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
        "Matched: zero-shot accuracy on X (the runs with the most training languages that leave X out) at "
        f"least the English+X run's accuracy on X minus {MATCH_MARGIN}.", "", markdown_table(match_rates(comparison)),
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
        f"(in-sample {regression.r2_in_sample:.3f}). 95% intervals and p-values with standard errors "
        f"clustered by run (n = {regression.runs_train} runs).{dropped}", "",
        markdown_table(regression.coefficients), "", "![](regression_coefficients.png)", ""]


def _posttrainer_sections(table: pd.DataFrame, report: Report, silent: dict[str, int]) -> list[str]:
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
                         "difference, win rate of multi-task (95% Wilson interval).", "", markdown_table(comparison)]
    fidelity = table[~table["baseline"] & table["fidelity"].notna()]
    if not fidelity.empty:
        pivot = fidelity.pivot_table(index=["task", "setting"], columns="lang", values="fidelity", aggfunc="mean")
        sections += ["", "## Language fidelity", "", "Share of responses written in the prompt's language (lingua), mean "
                     "over runs.", "", markdown_table(pivot.reset_index())]
    return sections
