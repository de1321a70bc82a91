"""``ems tune-setup`` (the study, once), ``ems tune`` (one worker) and ``ems tune-summary`` (best params, table, figures)."""

from __future__ import annotations

import argparse
import logging

from ems.config import parse_settings

logger = logging.getLogger(__name__)


def _run_tune(args: argparse.Namespace) -> int:
    from ems.tune.objective import training_objective
    from ems.tune.run import interrupt_on_sigterm, make_spec, make_tracker, tune_worker

    settings = parse_settings(args.settings)
    if args.threads and not (settings.get("train") or {}).get("num_threads"):
        settings.setdefault("train", {})["num_threads"] = args.threads
    spec = make_spec(settings, args.out_dir)  # validates tune.space before anything starts
    _check_inputs(args)
    tracker = None
    if not args.no_tracking:
        from ems.tune.storage import gate

        with gate(spec.storage):  # workers starting together must not all create a new MLflow store
            tracker = make_tracker(settings, args.tracking_parent)
    objective = training_objective(settings, spec.space, args.shards, args.valid, args.tokenizer,
                                   args.trials_dir or f"{args.out_dir}/trials", keep_models=args.keep_models)
    interrupts = interrupt_on_sigterm()
    tune_worker(settings, args.out_dir, objective, args.worker_id, tracker, args.max_trials, args.done, interrupts)
    return 0


def _check_inputs(args: argparse.Namespace) -> None:
    """Missing inputs are the run's fault, not a trial's: fail before the study is touched."""
    from pathlib import Path

    from ems.errors import DataError

    for flag, folder, marker in (("--shards", args.shards, "meta.json"), ("--valid", args.valid, "meta.json"),
                                 ("--tokenizer", args.tokenizer, "tokenizer_config.json")):
        if not (Path(folder) / marker).is_file():
            raise DataError(f"{flag} {folder}: no {marker} (not a {'shard' if marker == 'meta.json' else 'tokenizer'} folder)")


def _run_setup(args: argparse.Namespace) -> int:
    from ems.tune.run import make_tracker, tune_setup

    settings = parse_settings(args.settings)
    tracker = None if args.no_tracking else make_tracker(settings, args.tracking_parent)
    tune_setup(settings, args.out_dir, tracker, args.done)
    return 0


def _run_summary(args: argparse.Namespace) -> int:
    from ems.tune.run import make_tracker, tune_summary

    settings = parse_settings(args.settings)
    tracker = None if args.no_tracking else make_tracker(settings, args.tracking_parent)
    figures = {"history": args.history, "importances": args.importances, "parallel": args.parallel}
    figures = {k: v for k, v in figures.items() if v}
    tune_summary(settings, args.out_dir, args.best_params, args.trials, figures, tracker)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out-dir", required=True, help="study folder (results/<name>/tune): journal storage, trials")
    p.add_argument("--settings", required=True,
                   help='JSON with "tune", "model", "objective", "train", "tracking", "name", "results_dir"')
    p.add_argument("--tracking-parent", help="parent.json of ems tracking-setup (the study run nests under it)")
    p.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")


def register(subparsers: argparse._SubParsersAction) -> None:
    u = subparsers.add_parser("tune-setup", help="create the study's storage, the study and its MLflow run, once")
    _common(u)
    u.add_argument("--done", help="JSON summary of the study to write (the workers' input in the workflow)")
    u.set_defaults(func=_run_setup)

    p = subparsers.add_parser("tune", help="run one worker of the Optuna study (resumable; many may run at once)")
    p.add_argument("--shards", required=True, help="training token shards (shards/train)")
    p.add_argument("--valid", required=True, help="validation token shards (shards/valid): the dev score")
    p.add_argument("--tokenizer", required=True, help="tokenizer folder")
    _common(p)
    p.add_argument("--worker-id", type=int, default=0, help="index of this worker (seeds its sampler session)")
    p.add_argument("--max-trials", type=int, default=None, help="stop this worker after N trials (default: until full)")
    p.add_argument("--trials-dir", help="where trial models are trained (default <out-dir>/trials)")
    p.add_argument("--keep-models", action="store_true", help="keep each trial's model folder")
    p.add_argument("--threads", type=int, default=None, help="torch threads when train.num_threads is null")
    p.add_argument("--done", help="JSON summary of this worker's session to write at the end")
    p.set_defaults(func=_run_tune)

    s = subparsers.add_parser("tune-summary", help="write best_params.yaml, the trials table and figures of a study")
    _common(s)
    s.add_argument("--best-params", required=True, help="best_params.yaml to write (config-section overrides)")
    s.add_argument("--trials", required=True, help="trials table CSV to write")
    s.add_argument("--history", help="optimisation history PNG")
    s.add_argument("--importances", help="parameter importances PNG")
    s.add_argument("--parallel", help="parallel coordinates PNG")
    s.set_defaults(func=_run_summary)
