"""The ``polymix`` command: run a study, list its runs."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from training.errors import PolymixError

os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
# Progress bars of artifact downloads and dataset loading are noise in a study's log (and in its error output).
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")


def runs_table(tracking_uri: str, experiment: str, parent_run_id: str | None = None, run_ids: list[str] | None = None) -> str:
    """The finished trial runs of an experiment, of one sweep (``parent_run_id``), or the given runs (a sweep's
    own and those it reused from earlier sweeps, which stay the children of the sweep that trained them)."""
    from ray_jobs.report import planned_trials
    from search.tracking import SPEC_HASH_TAG, Tracker
    from training.languages import ALL_LANGUAGES

    tracker = Tracker(tracking_uri)
    experiment_id = tracker.require_experiment(experiment)
    if run_ids is None:
        runs = tracker.trial_runs(experiment, parent_run_id)
    else:
        wanted = set(run_ids)
        runs = [run for run in tracker.trial_runs(experiment) if run.run_id in wanted]
    if not runs:
        return f"no finished trial runs in experiment {experiment!r} yet"
    # Rows in the study's order (its models, tasks and mixtures as declared: the sweep's plan.json); runs it did not
    # plan (earlier versions of the study) after them
    parent = parent_run_id or getattr(tracker.latest_parent(experiment_id), "run_id", None)
    plan = (planned_trials(tracker, parent) if parent else None) or []
    position = {trial["spec_hash"]: index for index, trial in enumerate(plan)}
    rows = []
    for run in sorted(runs, key=lambda run: position.get(run.tags.get(SPEC_HASH_TAG), len(position))):
        p, m = run.params, run.metrics
        rows.append([p.get("model", "?"), p.get("task", "?"), p.get("mixture", "?"),
                     *(f"{m[k]:.2f}" if k in m else "-" for k in ("eval/avg_seen", "eval/avg_unseen")),
                     *(f"{m[f'eval/acc/{lang}']:.2f}" if f"eval/acc/{lang}" in m else "-" for lang in ALL_LANGUAGES)])
    header = ["model", "task", "mixture", "seen", "unseen", *ALL_LANGUAGES]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(v).ljust(w) for v, w in zip(r, widths))
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def browse_hint(uri: str, experiment_id: str) -> str:
    """Where to look at the study's runs: its trial runs' view on a tracking server, else how to open the local store."""
    from search.tracking import RUNS_VIEW_KEY

    if uri.startswith(("http://", "https://")):
        return f"\nBrowse: {uri.rstrip('/')}/#/experiments/{experiment_id}/runs?viewStateShareKey={RUNS_VIEW_KEY}"
    return (f"\nBrowse: mlflow ui --backend-store-uri {uri}, then #/experiments/{experiment_id}/runs?viewStateShareKey="
            f"{RUNS_VIEW_KEY} (or `polymix server`)")


def _cmd_run(args) -> int:
    from search.study import load_study, preflight

    study = load_study(args.study, args.set)
    preflight(study, args.study)
    from search.runs.sweep import run_study  # Ray, torch and MLflow load only once the study is valid

    outcome = run_study(study, Path(args.workdir), args.address)
    from search.tracking import Tracker

    if Tracker(outcome["tracking_uri"]).reachable():  # (a server that went away: its runs wait in the journal)
        print()
        print(runs_table(outcome["tracking_uri"], outcome["experiment"], outcome["parent_run_id"], outcome["run_ids"]))
        print(browse_hint(outcome["tracking_uri"], outcome["experiment_id"]))
    return 1 if outcome["failed"] else 0


def _cmd_climb(args) -> int:
    from search.study import load_study, preflight

    study = load_study(args.study, args.set)
    preflight(study, args.study)
    if study.search is None:
        raise PolymixError(f"{args.study}: search: not set; `polymix climb` needs a `search` section (see configs/climb.yaml)")
    from search.runs.ratio_search import run_ratio_search

    outcome = run_ratio_search(study, Path(args.workdir), args.address)
    print(f"Recommendations and T heatmaps: artifacts of parent run {outcome['parent_run_id']} "
          f"(mlflow ui --backend-store-uri {outcome['tracking_uri']})")
    return 0


def _cmd_tune(args) -> int:
    from search.study import load_study, preflight

    overrides = list(args.set)
    if args.model:  # the form: `polymix tune STUDY --model M --mixture NAME`, checked like the study
        overrides.append(f"tuning.models=[{', '.join(args.model)}]")
    if args.mixture:
        overrides.append(f"tuning.mixture={args.mixture}")
    study = load_study(args.study, overrides)
    preflight(study, args.study)
    from search.runs.tuning import run_tuning  # (it checks the study has a tuning section before anything starts)

    outcome = run_tuning(study, Path(args.workdir), args.address)
    print(f"Best values: {outcome['best_file']} and tags polymix.tuned.<model>.<task> of tuning run "
          f"{outcome['parent_run_id']}; `hparams: from_tuning` in the study makes `polymix run` use them")
    return 0


def _cmd_plan(args) -> int:
    import json

    from search.runs.designs import expand_trials
    from search.runs.planner import format_plan, plan_summary
    from search.study import load_study

    study = load_study(args.study, args.set)
    summary = plan_summary(study, expand_trials(study))
    print(json.dumps(summary, indent=2) if args.json else format_plan(summary))
    if not args.json and study.tuning is not None:
        t = study.tuning
        print(f"tuning (polymix tune): {', '.join(t.space)} on mixture {t.mixture}, {t.searcher}, "
              f"{'every combination' if t.searcher == 'grid' else t.trials} trials per model × task"
              + (", ASHA early stopping" if t.asha else ""))
    if not args.json and study.hparams == "from_tuning":
        print("hparams: from_tuning: each model × task trains with the best values of its latest `polymix tune` run; "
              "the figures above use the train section's values")
    return 0


def _cmd_submit(args) -> int:
    from ray_jobs.submit import submit

    return submit(args.study, args.address, args.workdir, args.set, args.follow)


def _cmd_runs(args) -> int:
    from search.tracking import default_tracking_uri

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(Path(args.workdir))
    print(runs_table(uri, args.experiment))
    return 0


def _cmd_report(args) -> int:
    from ray_jobs.report import make_report
    from search.tracking import default_tracking_uri

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(Path(args.workdir))
    folder = Path(args.out or Path(args.workdir) / "reports" / args.experiment)
    report, parent_run_id, notes = make_report(uri, args.experiment, folder, args.all_runs)
    print("\n".join(notes))
    for analysis, reason in report.skipped.items():
        print(f"not computed: {analysis}: {reason}")
    print(f"wrote {', '.join(report.files)} to {folder}/ and logged them under report/ on parent run {parent_run_id}")
    return 0


def _cmd_sync(args) -> int:
    from search.tracking import Tracker, default_tracking_uri

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(Path(args.workdir))
    journal_dir = Path(args.workdir) / "ray_results" / "tracking_journal"
    tracker = Tracker(uri, journal_dir)
    if not tracker.reachable():
        raise PolymixError(f"MLflow tracking server {uri} does not answer; start it, then run `polymix sync` again "
                           f"(the journal in {journal_dir} is kept)")
    synced, waiting = tracker.sync()
    print(f"synced {synced} run(s) from {journal_dir} to {uri}" + (f"; {len(waiting)} still waiting" if waiting else ""))
    return 1 if waiting else 0


def _cmd_server(args) -> int:
    from ray_jobs.server import serve

    extra = args.mlflow_args[1:] if args.mlflow_args[:1] == ["--"] else args.mlflow_args
    serve(Path(args.workdir), args.host, args.port, args.artifacts_destination, extra)
    return 0  # not reached: the server replaces this process


def _cmd_pretrain_base(args) -> int:
    from training.models import base_manifest, base_stored_dtype
    from training.pretrain import Recipe, pretrain_base

    # By default the committed base's own schedule and storage, as it records them (tiny-s 5000 steps in float32,
    # tiny-m 10000 in bfloat16).
    steps = args.steps or base_manifest(args.size)["steps"]
    stored = args.stored_dtype or base_stored_dtype(args.size)
    recipe = Recipe(size=args.size, steps=steps, seed=args.seed, stored_dtype=stored)
    workdir = Path(args.workdir) / "pretrain" / f"tiny-{args.size}-seed{args.seed}"
    written = pretrain_base(recipe, workdir, args.out, args.stop_after, args.threads)
    if written:
        print(f"wrote tiny-{args.size} and its manifest to {written} (checkpoints and log in {workdir})")
    return 0


def quiet_progress_bars() -> None:
    """No progress bars (weights written, splits generated) when the output is not a terminal: in a job's log or a
    file each bar is a line of noise. Set before transformers and datasets are imported, and inherited by a local Ray
    instance's workers; a user's own setting stays."""
    if not sys.stdout.isatty():
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # huggingface_hub's, which transformers follows
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")


def main(argv: list[str] | None = None) -> int:
    quiet_progress_bars()
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except PolymixError as error:
        print(f"polymix: error: {error}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="polymix", description="Multilingual post-training studies on Ray.")
    parser.add_argument("--workdir", default=".polymix", help="local state: sample data, tiny models, MLflow db, Ray results")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_study_commands(commands)
    _add_tracking_commands(commands)
    _add_pretrain_command(commands)
    return parser


def _study_command(commands, name: str, help: str, handler, example: str = "", address: bool = True):
    """A command that reads a study file: the study, its --set overrides and (to run it) the Ray address."""
    command = commands.add_parser(name, help=help)
    command.add_argument("study")
    command.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                         help="override a study field" + (f", e.g. {example}" if example else ""))
    if address:
        command.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else start a local instance)")
    command.set_defaults(handler=handler)
    return command


def _add_study_commands(commands) -> None:
    """The commands that read a study file: run, climb, tune, plan, submit."""
    _study_command(commands, "run", "run a study on the current Ray cluster (or a local one)", _cmd_run, "train.lr=2e-5")
    _study_command(commands, "climb", "search a study's language ratios adaptively (its `search` section)", _cmd_climb,
                   "search.runs=16")
    tune_cmd = _study_command(commands, "tune", "tune training hyperparameters per model × task on a reference mixture "
                              "(the study's `tuning` section)", _cmd_tune, "tuning.samples=12")
    tune_cmd.add_argument("--model", action="append", help="tune this model only (repeatable; default tuning.models)")
    tune_cmd.add_argument("--mixture", help="the reference mixture (default tuning.mixture)")
    plan = _study_command(commands, "plan", "validate a study, list its runs and estimate GPU-hours and makespan",
                          _cmd_plan, address=False)
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    submit = _study_command(commands, "submit", "submit a study as a Ray job (the repo is the job's working dir)",
                            _cmd_submit, address=False)
    submit.add_argument("--address", required=True, help="the cluster's job server, e.g. http://127.0.0.1:8265")
    submit.add_argument("--follow", action="store_true", help="stream the job's logs until it ends")


def _add_tracking_commands(commands) -> None:
    """The commands that read or serve the tracking store: runs, report, sync, server."""
    runs = commands.add_parser("runs", help="print an experiment's trial runs as a table")
    runs.add_argument("experiment")
    runs.add_argument("--tracking-uri")
    runs.set_defaults(handler=_cmd_runs)
    report = commands.add_parser("report", help="the paper-style tables and plots of an experiment, as files and MLflow artifacts")
    report.add_argument("experiment")
    report.add_argument("--out", help="folder for report.md and the figures (default: WORKDIR/reports/EXPERIMENT)")
    report.add_argument("--tracking-uri")
    report.add_argument("--all-runs", action="store_true",
                        help="every finished trial run of the experiment, not only those the latest sweep planned")
    report.set_defaults(handler=_cmd_report)
    sync = commands.add_parser("sync", help="write to MLflow what trials kept locally while the tracking server was down")
    sync.add_argument("--tracking-uri")
    sync.set_defaults(handler=_cmd_sync)
    server = commands.add_parser("server", help="start an MLflow tracking server for a team (SQL backend, artifact root)")
    server.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    server.add_argument("--port", type=int, default=5000)
    server.add_argument("--artifacts-destination", help="artifact root: a directory or s3://bucket/prefix "
                        "(default WORKDIR/mlflow-artifacts); the backend store is MLFLOW_BACKEND_STORE_URI "
                        "(default sqlite:///WORKDIR/mlflow.db, the store polymix run, runs and report use)")
    server.add_argument("mlflow_args", nargs=argparse.REMAINDER, help="further `mlflow server` options, after --")
    server.set_defaults(handler=_cmd_server)


def _add_pretrain_command(commands) -> None:
    pretrain = commands.add_parser("pretrain-base", help="pre-train a tiny base model from scratch on the synthetic "
                                   "corpus (resumes from WORKDIR/pretrain/... if stopped)")
    pretrain.add_argument("--size", choices=("s", "m"), default="m")
    pretrain.add_argument("--steps", type=int, help="optimiser steps of the whole run (default: the committed base's, "
                          "tiny-s 5000, tiny-m 10000)")
    pretrain.add_argument("--seed", type=int, default=0)
    pretrain.add_argument("--out", help="where the finished base goes (default: the committed training/bases/tiny-SIZE)")
    pretrain.add_argument("--stop-after", type=int, help="stop after this many steps from where it stands (go on later)")
    pretrain.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    pretrain.add_argument("--stored-dtype", choices=("float32", "bfloat16"),
                          help="how the weights are stored (default: the committed base's, tiny-s float32, tiny-m "
                          "bfloat16; bfloat16 leaves half the bytes in the repository's history)")
    pretrain.set_defaults(handler=_cmd_pretrain_base)


if __name__ == "__main__":
    sys.exit(main())
