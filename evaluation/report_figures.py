"""The report's figures (evaluation/report.py writes the text around them): matplotlib, off-screen."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on cluster nodes or CI
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation.analysis import SETTINGS
from evaluation.stats import bootstrap_interval

FIGURES = ("accuracy_heatmap.png", "coverage_curves.png", "gains_by_language.png", "transfer_heatmap.png", "regression_coefficients.png",
           "dose_curves.png")


@dataclass
class Report:
    folder: Path
    files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # analysis → why it could not be computed


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
