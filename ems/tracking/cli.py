"""``ems tracking-setup`` (the MLflow experiment and parent run, once, before parallel jobs) and
``ems relocate-store`` (a copied results folder reads its own artifacts). The grid's run names
(``ems tracking-names``) are :mod:`ems.ablation.cli`'s, a peer's run (``ems tracking-peer``)
:mod:`ems.evaluation.cli`'s."""

from __future__ import annotations

import argparse
import logging

from ems.config import parse_settings

logger = logging.getLogger(__name__)


def _run_setup(args: argparse.Namespace) -> int:
    from ems.tracking.setup import tracking_setup

    tracking_setup(parse_settings(args.settings), args.out, keep_running=not args.finish)  # validates them
    return 0


def _run_relocate(args: argparse.Namespace) -> int:
    from ems.tracking.relocate import relocate_results

    changed = relocate_results(args.results)
    logger.info("%s: %s", args.results, f"{changed} artifact locations now point here" if changed else
                "the store already points at its own artifacts")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "tracking-setup",
        help="create the MLflow experiment and this configuration's parent run; write parent.json",
    )
    p.add_argument("--settings", required=True, help='JSON with "name", "results_dir" and the "tracking" section')
    p.add_argument("--out", required=True, help="parent.json to write (run_id, experiment_id, tracking_uri)")
    p.add_argument("--finish", action="store_true",
                   help="end the parent run at once (default: RUNNING until `ems mlflow-summary` ends it)")
    p.set_defaults(func=_run_setup)

    p = subparsers.add_parser("relocate-store", help="after copying or moving a results folder: its embedded MLflow "
                                                     "store reads runs and models from the new place")
    p.add_argument("results", help="results/<name> (holding mlflow/mlflow.db)")
    p.set_defaults(func=_run_relocate)
