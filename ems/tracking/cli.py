"""``ems tracking-setup``: create the MLflow experiment and parent run once, before parallel jobs."""

from __future__ import annotations

import argparse
import logging

from ems.config import parse_settings

logger = logging.getLogger(__name__)


def _run_setup(args: argparse.Namespace) -> int:
    from ems.tracking.setup import tracking_setup

    tracking_setup(parse_settings(args.settings), args.out)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "tracking-setup",
        help="create the MLflow experiment and this configuration's parent run; write parent.json",
    )
    p.add_argument("--settings", required=True, help='JSON with "name", "results_dir" and the "tracking" section')
    p.add_argument("--out", required=True, help="parent.json to write (run_id, experiment_id, tracking_uri)")
    p.set_defaults(func=_run_setup)
