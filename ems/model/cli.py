"""``ems model-card`` (a trained model's release folder: its card with its evaluation results) and ``ems import-official``
(the authors' checkpoint as one of our model folders)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def _run_card(args: argparse.Namespace) -> int:
    from ems.config import parse_settings
    from ems.model.card import write_release

    settings = parse_settings(args.settings) if args.settings else {}
    corpora = (settings.get("corpus") or {}).get("sources")
    write_release(args.model, args.evals, args.out, args.run, sources=settings.get("sources"), corpora=corpora)
    return 0


def _run_import(args: argparse.Namespace) -> int:
    import tempfile

    from ems.model.official import import_official

    if bool(args.tokenizer) == bool(args.official_source):
        from ems.errors import ConfigError

        raise ConfigError("import-official: give either --tokenizer or --official-source")
    with tempfile.TemporaryDirectory(prefix="ems-official-tokenizer-") as tmp:
        tokenizer = args.tokenizer
        if args.official_source:  # build the official tokenizer folder from the fetched Mao-KU/EMS repository
            from ems.data.official_tokenizer import REPOSITORY_MODEL, save_official_tokenizer

            tokenizer = Path(tmp) / "tokenizer"
            save_official_tokenizer(Path(args.official_source) / REPOSITORY_MODEL, tokenizer, {"max_length": 120})
        import_official(args.checkpoint, tokenizer, args.out, heads=args.heads, activation=args.activation,
                        sha256=args.sha256 or None, heads_out=args.heads_out)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("model-card", help="write a model's release folder: the model (hard links) with its "
                              "card (README.md) with its evaluation results and model-index")
    p.add_argument("--model", required=True, help="the saved model folder (models/<model_id>/model)")
    p.add_argument("--evals", nargs="*", default=[], help="the model's evaluation summaries (eval/<model_id>/<task>.json)")
    p.add_argument("--run", help="the model's run.json (MLflow run id, hashes)")
    p.add_argument("--out", required=True, help="release folder to write (models/<model_id>/release)")
    p.add_argument("--settings", default="", help="JSON: the config's sources (dataset revisions of the model-index) "
                   "and corpus.sources (the licences of the training corpora in LICENSE.md)")
    p.set_defaults(func=_run_card)

    p = subparsers.add_parser("import-official", help="the authors' EMS_model.pt as a model folder (ems embed, "
                              "sentence-transformers, transformers)")
    p.add_argument("--checkpoint", required=True, help="official checkpoint (EMS_model.pt: DDP state dict)")
    p.add_argument("--tokenizer", default="", help="the official tokenizer folder (tokenizer.model: official)")
    p.add_argument("--official-source", default="", help="or the fetched Mao-KU/EMS folder (its tokenizer is built)")
    p.add_argument("--out", required=True, help="model folder to write")
    p.add_argument("--sha256", default="", help="expected sha256 of the checkpoint")
    p.add_argument("--heads", type=int, default=16, help="attention heads (not in the checkpoint; EMS: 16)")
    p.add_argument("--activation", default="swish", help="FFN activation (not in the checkpoint; EMS: swish)")
    p.add_argument("--heads-out", default=None, help="also save the XTR and contrastive heads here (heads.pt)")
    p.set_defaults(func=_run_import)
