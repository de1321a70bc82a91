"""``ems model-card``: a trained model's card (README.md) with its evaluation results."""

from __future__ import annotations

import argparse
import logging

logger = logging.getLogger(__name__)


def _run_card(args: argparse.Namespace) -> int:
    from ems.model.card import write_results_card

    write_results_card(args.model, args.evals, args.out, args.run)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("model-card", help="write a model's card (README.md) with its evaluation results")
    p.add_argument("--model", required=True, help="the saved model folder (models/<model_id>/model)")
    p.add_argument("--evals", nargs="*", default=[], help="the model's evaluation summaries (eval/<model_id>/<task>.json)")
    p.add_argument("--run", help="the model's run.json (MLflow run id, hashes)")
    p.add_argument("--out", required=True, help="README.md to write (models/<model_id>/README.md)")
    p.set_defaults(func=_run_card)
