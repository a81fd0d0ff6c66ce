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
from evaluation.scorers import scorer_for
from evaluation.stats import bootstrap_interval, mean_interval, wilson_interval
from training.languages import ALL_LANGUAGES
from training.tasks import get_task

FIGURES = ("accuracy_heatmap.png", "coverage_curves.png", "gains_by_language.png", "transfer_heatmap.png", "regression_coefficients.png",
           "dose_curves.png")


@dataclass
class Report:
    folder: Path
    files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # analysis → why it could not be computed


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
            return format_p(value) if column == "p_value" else f"{value:.{digits}f}"
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


def _save(figure, report: Report, name: str) -> None:
    figure.tight_layout()
    figure.savefig(report.folder / name, dpi=120, bbox_inches="tight")  # (bbox: no axis label cut at the edge)
    plt.close(figure)
    report.files.append(name)


def plot_coverage(curves: pd.DataFrame, report: Report) -> None:
    tasks = sorted(curves["task"].unique())
    figure, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for model, curve in curves[curves["task"] == task].groupby("model"):
            curve = curve.sort_values("n_trained")
            line, = ax.plot(curve["n_trained"], curve["accuracy"], marker="o", label=model)
            ax.fill_between(curve["n_trained"], curve["low"], curve["high"], alpha=0.15, color=line.get_color())
            for x, y, examples in zip(curve["n_trained"], curve["accuracy"], curve["examples"]):
                ax.annotate(examples, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7, color=line.get_color())
        values = curves.loc[curves["task"] == task, ["accuracy", "high"]]
        ax.set_ylim(0.0, max(0.05, float(np.nanmax(values.to_numpy())) + 0.03))  # accuracy axes start at 0
        ax.set_xticks(sorted(curves["n_trained"].unique()))
        ax.set_xlim(-0.4, curves["n_trained"].max() + 0.8)  # (room for the last point's label)
        ax.set(title=f"{task}: accuracy vs training languages\n(labels: training examples; they differ between points)",
               xlabel="training languages (0 = pretrained only)", ylabel="mean accuracy over evaluation languages")
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


def median_with_interval(values: pd.Series) -> pd.Series:
    """Median and its 95% bootstrap interval (none from fewer than 2 values)."""
    low, high = bootstrap_interval(values.to_numpy(), np.median) if len(values) > 1 else (np.nan, np.nan)
    return pd.Series({"median": values.median(), "low": low, "high": high})


def plot_gains(gains: pd.DataFrame, report: Report, order: list[str]) -> None:
    """Median gain over English-only per language, one panel per setting, one bar colour per task; error bars: the
    95% bootstrap interval of the median over the language's run pairs (none where it has one)."""
    tasks = sorted(gains["task"].unique())
    figure, axes = plt.subplots(1, len(SETTINGS), figsize=(15, 4), squeeze=False)
    for ax, setting in zip(axes[0], SETTINGS):
        subset = gains[gains["setting"] == setting]
        # direct and English: by the language added; transfer: by the evaluation language, over the languages added
        key = "lang" if setting == "transfer" else "added"
        if not subset.empty:
            # (a transfer pair's evaluation languages are separate rows of the same pair: their median across pairs)
            stats = subset.groupby(["task", key])["gain"].apply(median_with_interval).unstack()
            languages = [lang for lang in order if lang in set(subset[key])]
            positions = np.arange(len(languages))
            width = 0.8 / len(tasks)
            for offset, task in enumerate(tasks):
                bars = stats.loc[task].reindex(languages) if task in stats.index.get_level_values(0) else None
                if bars is None:
                    continue
                errors = np.array([bars["median"] - bars["low"], bars["high"] - bars["median"]]).astype(float)
                ax.bar(positions + offset * width, bars["median"].fillna(0), width, label=task,
                       yerr=np.nan_to_num(errors), capsize=2, error_kw={"linewidth": 0.8})
            ax.set_xticks(positions + width * (len(tasks) - 1) / 2, languages)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set(title={"direct": "direct exposure (eval language added)", "transfer": "cross-lingual transfer (not trained)",
                      "english": "English"}[setting],
               xlabel="language added" if key == "added" else "evaluation language",
               ylabel="median gain vs English-only (95% CI)")
        ax.legend(fontsize=8)
    _save(figure, report, "gains_by_language.png")


def plot_heatmap(matrix: pd.DataFrame, ax, cmap: str, vmin: float, vmax: float, text: str):
    """``matrix`` as coloured cells, each labelled with its value (``text`` format); returns the image."""
    image = ax.imshow(matrix.to_numpy(dtype=float), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(matrix.shape[1]), matrix.columns)
    ax.set_yticks(range(matrix.shape[0]), matrix.index)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            value = matrix.iat[i, j]
            if not np.isnan(value):
                ax.text(j, i, format(value, text), ha="center", va="center", fontsize=6 if matrix.size > 60 else 7,
                        color="white" if cmap == "viridis" and value < 0.5 else "black")
    return image


def plot_transfer(matrix: pd.DataFrame, report: Report, order: list[str]) -> None:
    rows = [lang for lang in order if lang in matrix.index]
    columns = [lang for lang in order if lang in matrix.columns]
    matrix = matrix.loc[rows, columns]
    bound = max(float(np.nanmax(np.abs(matrix.to_numpy()))), 1e-6)
    # (a row per language added; at least the height that keeps the title, ticks and labels apart)
    figure, ax = plt.subplots(figsize=(2 + 0.55 * len(columns), 1.6 + 0.45 * len(rows)))
    image = plot_heatmap(matrix, ax, "RdBu", -bound, bound, "+.2f")
    ax.set(xlabel="evaluation language", ylabel="added to English",
           title="gain over English-only per evaluation language\n(mean over models and tasks; blue: gain)")
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.02)
    _save(figure, report, "transfer_heatmap.png")


def language_accuracy_figure(rows: pd.DataFrame, title: str):
    """One run's accuracy per evaluation language (``rows``: task, lang, accuracy, low, high, trained) with its 95%
    Wilson interval, a panel per task; the run's training languages dark, the others light."""
    tasks = list(dict.fromkeys(rows["task"]))
    figure, axes = plt.subplots(1, len(tasks), figsize=(1.5 + 0.45 * rows["lang"].nunique() * len(tasks), 3.2), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        panel = rows[rows["task"] == task]
        errors = np.nan_to_num(np.array([panel["accuracy"] - panel["low"], panel["high"] - panel["accuracy"]], dtype=float))
        ax.bar(range(len(panel)), panel["accuracy"], yerr=errors, capsize=2, error_kw={"linewidth": 0.8},
               color=["C0" if trained else "#9ecae1" for trained in panel["trained"]])
        ax.set_xticks(range(len(panel)), panel["lang"])
        ax.set_ylim(0, 1)
        ax.set(title=task, ylabel="accuracy (95% Wilson CI)")
    figure.suptitle(f"{title}\ndark: trained on; light: not trained on", fontsize=9)
    figure.tight_layout()
    return figure


def accuracy_heatmap(table: pd.DataFrame, order: list[str]):
    """The accuracy table as heatmaps: a panel per model (rows) and task (columns), mixtures × evaluation languages;
    returns the figure."""
    models, tasks = list(dict.fromkeys(table["model"])), list(dict.fromkeys(table["task"]))
    columns = [lang for lang in order if lang in set(table["lang"])]
    height = table.groupby(["model", "task"])["mixture"].nunique().max()
    figure, axes = plt.subplots(len(models), len(tasks), squeeze=False,
                                figsize=(len(tasks) * (2.0 + 0.5 * len(columns)), len(models) * (0.9 + 0.25 * height)))
    for (row, model), (column, task) in ((m, t) for m in enumerate(models) for t in enumerate(tasks)):
        ax, panel = axes[row, column], table[(table["model"] == model) & (table["task"] == task)]
        if panel.empty:
            ax.set_axis_off()
            continue
        matrix = panel.pivot_table(index="mixture", columns="lang", values="accuracy", aggfunc="first", sort=False)
        image = plot_heatmap(matrix.reindex(columns=columns), ax, "viridis", 0.0, 1.0, ".2f")
        ax.set_title(f"{model} · {task}", fontsize=9)
        ax.tick_params(labelsize=7)
    figure.subplots_adjust(wspace=0.45, hspace=0.6)  # room for the next panel's mixture names and title
    figure.colorbar(image, ax=axes.ravel().tolist(), fraction=0.03, pad=0.02, label="accuracy")
    return figure


def plot_accuracy(table: pd.DataFrame, report: Report, order: list[str]) -> None:
    figure = accuracy_heatmap(table, order)
    figure.savefig(report.folder / "accuracy_heatmap.png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    report.files.append("accuracy_heatmap.png")


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
                         "difference, win rate of multi-task (95% Wilson interval).", "", markdown_table(comparison)]
    fidelity = table[~table["baseline"] & table["fidelity"].notna()]
    if not fidelity.empty:
        pivot = fidelity.pivot_table(index=["task", "setting"], columns="lang", values="fidelity", aggfunc="mean")
        pivot = pivot[[lang for lang in order if lang in pivot.columns]]
        sections += ["", "## Language fidelity", "", "Share of responses written in the prompt's language (lingua), mean "
                     "over runs.", "", markdown_table(pivot.reset_index())]
    return sections
