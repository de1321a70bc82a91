"""``ems tracking-setup`` (the MLflow experiment and parent run, once, before parallel jobs),
``ems tracking-names`` (short run names of the grid) and ``ems tracking-peer`` (one run per peer)."""

from __future__ import annotations

import argparse
import logging

from ems.config import parse_settings

logger = logging.getLogger(__name__)


def _run_setup(args: argparse.Namespace) -> int:
    from ems.tracking.setup import tracking_setup

    tracking_setup(parse_settings(args.settings), args.out, keep_running=not args.finish)
    return 0


def _run_names(args: argparse.Namespace) -> int:
    from ems.ablation import grid
    from ems.io import write_json
    from ems.tracking.naming import names_document

    settings = parse_settings(args.settings)
    doc = names_document(grid.model_ids(settings), grid.varying_factors(settings))
    write_json(args.out, doc)
    logger.info("run names of %d models (varying factors %s) -> %s", len(doc["names"]), doc["varying"], args.out)
    return 0


def _run_peer(args: argparse.Namespace) -> int:
    from ems.evaluation.tracking import peer_run

    peer_run(args.parent, args.model_id, args.out)
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

    p = subparsers.add_parser("tracking-names", help="short MLflow run names of the grid's models (run_names.json)")
    p.add_argument("--settings", required=True, help='JSON with the "ablation" section')
    p.add_argument("--out", required=True, help="run_names.json to write ({varying, names})")
    p.set_defaults(func=_run_names)

    p = subparsers.add_parser("tracking-peer", help="the one MLflow run of a peer encoder (all its tasks log to it)")
    p.add_argument("--parent", required=True, help="parent.json from `ems tracking-setup`")
    p.add_argument("--model-id", required=True, help="peer-<name>")
    p.add_argument("--out", required=True, help="the peer's run JSON (run_id, experiment_id, tracking_uri), as run.json")
    p.set_defaults(func=_run_peer)

    p = subparsers.add_parser("relocate-store", help="after copying or moving a results folder: its embedded MLflow "
                                                     "store reads runs and models from the new place")
    p.add_argument("results", help="results/<name> (holding mlflow/mlflow.db)")
    p.set_defaults(func=_run_relocate)
