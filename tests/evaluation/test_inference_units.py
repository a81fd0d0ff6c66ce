"""The report's intervals on generated studies with a known truth: they cover it at about their nominal rate.

Every run has its own effect on all its languages (a training's luck: seed, data order), as real runs do. Treating
a run's languages, or its rows in the pooled regression, as independent observations gives intervals that cover
the truth far less often than 95%; inference over runs (run pairs, standard errors clustered by run) does not.
"""

import numpy as np
import pandas as pd
import statsmodels.api as sm

from evaluation.analysis import (
    RESULT_COLUMNS,
    bilingual_gains,
    gain_summary,
    pooled_regression,
    regression_design,
    silent_tasks,
)

LANGS = ["en", "es", "ja", "bn", "sw", "te"]
ADDED = ["es", "ja", "bn", "sw"]
REPLICATIONS = 200
RUN_SD, ROW_SD = 0.03, 0.01  # run-to-run spread shared by a run's languages; language-level noise


def row(run_id, model, task, trained, lang, accuracy, params=1e9, family="qwen", baseline=False):
    return {"run_id": run_id, "model": model, "family": family, "params": params, "task": task, "mixture": trained or "untrained",
            "trained": trained, "n_trained": len(trained.split(",")) if trained else 0, "baseline": baseline, "lang": lang,
            "accuracy": accuracy, "n": 250, "setting": "single", "dose": np.nan, "dosed": False, "fidelity": np.nan}


def bilingual_study(rng, models=8, direct=0.09, transfer=0.02) -> pd.DataFrame:
    """Per model an English-only run and an English+X run per X; adding X raises X by ``direct``, the languages
    neither run trains by ``transfer``."""
    rows = []
    for m in range(models):
        base = rng.uniform(0.2, 0.5)
        for added in [None, *ADDED]:
            trained = "en" if added is None else ",".join(sorted(["en", added]))
            run_id, effect = f"m{m}-{trained}", rng.normal(0, RUN_SD)
            for lang in LANGS:
                gain = 0 if added is None else direct if lang == added else transfer if lang != "en" else 0.0
                rows.append(row(run_id, f"model{m}", "math", trained, lang, base + gain + effect + rng.normal(0, ROW_SD)))
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def covered(low, high, truth) -> bool:
    return bool(low <= truth <= high)


def test_gain_intervals_over_run_pairs_cover_the_true_gain_and_per_language_ones_would_not():
    rng = np.random.default_rng(0)
    hits, naive_hits = {"direct": 0, "transfer": 0}, 0
    for _ in range(REPLICATIONS):
        gains = bilingual_gains(bilingual_study(rng))
        summary = gain_summary(gains).set_index("setting")
        for setting, truth in (("direct", 0.09), ("transfer", 0.02)):
            hits[setting] += covered(summary.loc[setting, "mean_low"], summary.loc[setting, "mean_high"], truth)
        # the former unit: every (pair, language) of the transfer setting as an independent observation
        transfer = gains[gains["setting"] == "transfer"]["gain"].to_numpy()
        half = 1.96 * transfer.std(ddof=1) / np.sqrt(len(transfer))
        naive_hits += covered(transfer.mean() - half, transfer.mean() + half, 0.02)
    assert summary.loc["transfer", "pairs"] == 32 and summary.loc["transfer", "models"] == 8
    for setting, hit in hits.items():
        assert 0.90 <= hit / REPLICATIONS <= 0.99, (setting, hit / REPLICATIONS)
    assert naive_hits / REPLICATIONS < 0.75


TRUE = {"log10_size": 0.30, "family=qwen": 0.25, "pretrained_only": -0.11, "eval_lang_in_training": 0.09, "coverage": 0.05}


def regression_study(rng) -> pd.DataFrame:
    """Runs of 6 models (two families, three sizes) × trained sets of 1–5 languages, plus baselines, accuracies by
    the terms in TRUE, a run effect and language noise."""
    rows, sets = [], [["en"], ["en", "es"], ["en", "ja"], ["en", "es", "ja", "bn"], ["es", "ja", "bn", "sw"],
                      ["en", "es", "ja", "bn", "sw"]]
    for family in ("gemma", "qwen"):
        for params in (0.6e9, 1.7e9, 8e9):
            model = f"{family}-{params:.0e}"
            for trained in [[], *sets]:
                run_id, effect = f"{model}-{'-'.join(trained) or 'base'}", rng.normal(0, RUN_SD)
                for lang in LANGS:
                    accuracy = (0.3 + TRUE["log10_size"] * np.log10(params / 1e9) + TRUE["family=qwen"] * (family == "qwen")
                                + TRUE["pretrained_only"] * (not trained) + TRUE["eval_lang_in_training"] * (lang in trained)
                                + TRUE["coverage"] * np.sqrt(len(trained) / 5) + effect + rng.normal(0, ROW_SD))
                    rows.append(row(run_id, model, "math", ",".join(sorted(trained)), lang, accuracy, params, family,
                                    baseline=not trained))
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def test_regression_intervals_clustered_by_run_cover_the_true_coefficients_and_row_level_ones_would_not():
    rng = np.random.default_rng(1)
    hits = {term: 0 for term in TRUE}
    naive_hits = {term: 0 for term in TRUE}
    for replication in range(REPLICATIONS):
        table = regression_study(rng)
        fitted = pooled_regression(table, seed=replication).coefficients.set_index("term")
        for term, truth in TRUE.items():
            hits[term] += covered(fitted.loc[term, "low"], fitted.loc[term, "high"], truth)
        design = sm.add_constant(regression_design(table)[list(TRUE)])
        naive = sm.OLS(table["accuracy"].to_numpy(), design).fit().conf_int()  # rows as independent observations
        for term, truth in TRUE.items():
            naive_hits[term] += covered(naive.loc[term, 0], naive.loc[term, 1], truth)
    rates = {term: hit / REPLICATIONS for term, hit in hits.items()}
    assert all(0.88 <= rate <= 0.995 for rate in rates.values()), rates
    # run-level terms (size, family, pretrained-only, coverage): far too narrow when each run counts 6 times
    assert np.mean([naive_hits[t] / REPLICATIONS for t in ("log10_size", "family=qwen", "coverage")]) < 0.8, naive_hits


FIVE_MODELS = [("qwen", 0.6e9), ("qwen", 1.7e9), ("qwen", 8e9), ("gemma", 1e9), ("gemma", 4e9)]
MODEL_SD, MODEL_LANG_SD = 0.05, 0.03  # a model's own level, and its own level in each language, shared by its runs


def five_model_study(rng) -> pd.DataFrame:
    """The study's real cluster count: 5 models in 2 families, each with its own effect on all its runs and its own
    effect per language (what a model knows of a language shows in every run of it)."""
    rows, sets = [], [["en"], ["en", "es"], ["en", "ja"], ["en", "es", "ja", "bn"], ["es", "ja", "bn", "sw"],
                      ["en", "es", "ja", "bn", "sw"]]
    for family, params in FIVE_MODELS:
        model, level = f"{family}-{params:.0e}", rng.normal(0, MODEL_SD)
        per_lang = {lang: rng.normal(0, MODEL_LANG_SD) for lang in LANGS}
        for trained in [[], *sets]:
            run_id, effect = f"{model}-{'-'.join(trained) or 'base'}", rng.normal(0, RUN_SD)
            for lang in LANGS:
                accuracy = (0.3 + TRUE["log10_size"] * np.log10(params / 1e9) + TRUE["family=qwen"] * (family == "qwen")
                            + TRUE["pretrained_only"] * (not trained) + TRUE["eval_lang_in_training"] * (lang in trained)
                            + TRUE["coverage"] * np.sqrt(len(trained) / 5) + level + per_lang[lang] + effect
                            + rng.normal(0, ROW_SD))
                rows.append(row(run_id, model, "math", ",".join(sorted(trained)), lang, accuracy, params, family,
                                baseline=not trained))
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def test_at_five_models_with_model_effects_the_regression_covers_and_clustering_by_run_would_not():
    """Clustered by run, size and family (which vary only between the 5 models) and the seen-language term (which
    a model's language effects shift in all its runs) were read off ~24 runs: their intervals missed the truth often.
    Clustered by model, size and family from the models alone, every term covers at about 95%."""
    rng = np.random.default_rng(3)
    hits = {term: 0 for term in TRUE}
    by_run = {term: 0 for term in TRUE}
    replications = 150
    for replication in range(replications):
        table = five_model_study(rng)
        regression = pooled_regression(table, seed=replication)
        fitted = regression.coefficients.set_index("term")
        for term, truth in TRUE.items():
            hits[term] += covered(fitted.loc[term, "low"], fitted.loc[term, "high"], truth)
        design = sm.add_constant(regression_design(table)[list(TRUE)])
        old = sm.OLS(table["accuracy"].to_numpy(), design).fit(  # the former method: clustered by run
            cov_type="cluster", cov_kwds={"groups": pd.factorize(table["run_id"])[0]}, use_t=True).conf_int()
        for term, truth in TRUE.items():
            by_run[term] += covered(old.loc[term, 0], old.loc[term, 1], truth)
    assert regression.models == 5 and set(fitted["clusters"]) == {"5 models"}
    rates = {term: hit / replications for term, hit in hits.items()}
    assert all(0.90 <= rate <= 0.99 for rate in rates.values()), rates
    old_rates = {term: hit / replications for term, hit in by_run.items()}
    # (measured: size 0.47, family 0.43, seen language 0.85)
    assert max(old_rates["log10_size"], old_rates["family=qwen"]) < 0.7 and old_rates["eval_lang_in_training"] < 0.9, \
        old_rates


def test_a_task_where_every_run_scored_zero_is_flagged_and_not_counted_as_ties():
    rng = np.random.default_rng(2)
    study = bilingual_study(rng)
    silent = study.assign(task="api", accuracy=0.0, run_id=study["run_id"] + "-api")
    table = pd.concat([study, silent], ignore_index=True)
    assert silent_tasks(table) == {"api": 40}
    from evaluation.report import write_report

    report = write_report(table, __import__("pathlib").Path(__import__("tempfile").mkdtemp()), "silent")
    text = (report.folder / "report.md").read_text(encoding="utf-8")
    assert "**No signal: api** — every one of its 40 runs scored 0" in text
    gains_section = text.split("## Bilingual (English + one) vs English-only")[1].split("## Zero-shot")[0]
    assert "| math |" in gains_section and "| api |" not in gains_section
