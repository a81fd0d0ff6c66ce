"""Finished trial runs → the analysis' results table (one row per run and evaluation language).
"""

from __future__ import annotations

import json


def results_table(runs):
    """Finished trial runs → the analysis' results table (evaluation/analysis.py): one row per (run, language).

    Runs logged before polymix recorded the model's size, family or test counts keep NaN / "unknown" there.
    """
    import pandas as pd

    from evaluation.analysis import RESULT_COLUMNS

    rows = []
    for run in runs:
        params, metrics = run.params, run.metrics
        counts = json.loads(params.get("counts", "{}"))
        trained = sorted(lang for lang, count in counts.items() if count > 0)
        multi = params.get("setting") == "multi"
        # A multi-task run logs each task under eval/<task>/...: one row per (task, language) it was tested on.
        prefixes = {f"eval/{task}/": task for task in json.loads(params.get("tasks", "{}"))} if multi else {"eval/": params.get("task")}
        dose = float(params["dose"]) if "dose" in params else float("nan")
        for prefix, task in prefixes.items():
            for key, accuracy in metrics.items():
                if not key.startswith(prefix + "acc/"):
                    continue
                lang = key.removeprefix(prefix + "acc/")
                rows.append({"run_id": run.run_id, "model": params.get("model"),
                             "family": params.get("model_family", "unknown"),
                             "params": float(params.get("model_params", "nan")), "task": task,
                             "mixture": params.get("mixture"), "trained": ",".join(trained), "n_trained": len(trained),
                             "examples": sum(counts.values()),
                             "baseline": params.get("baseline") == "true", "lang": lang, "accuracy": accuracy,
                             "n": metrics.get(f"{prefix}n/{lang}", float("nan")),
                             "sd": metrics.get(f"{prefix}sd/{lang}", float("nan")), "setting": "multi" if multi else "single",
                             "dose": dose, "dosed": lang in params.get("dose_languages", "").split(","),
                             "fidelity": metrics.get(f"{prefix}fidelity/{lang}", float("nan")),
                             "unparsed": metrics.get(f"{prefix}unparsed/{lang}", float("nan"))})
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)
