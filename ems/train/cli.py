"""``ems train`` (train one model, tracked in MLflow) and ``ems embed`` (sentences -> .npy)."""

from __future__ import annotations

import argparse
import io
import logging
import sys
from pathlib import Path

from ems.config import parse_settings

logger = logging.getLogger(__name__)


def _tracker_for(args: argparse.Namespace, settings: dict, checkpoint_dir: Path, model_id: str, is_main: bool):
    """A resumed run (checkpoint_dir/tracking.json), a child of --parent-run, a fresh run, or none."""
    from ems.io import read_json, write_json
    from ems.tracking.base import NullTracker

    if args.no_tracking or not is_main:
        return NullTracker()
    from ems.tracking.mlflow_tracker import MlflowTracker
    from ems.train.settings import identity_hash, resolve_settings

    chash = identity_hash(resolve_settings(settings))  # the trainer checks its checkpoint the same way
    marker = checkpoint_dir / "tracking.json"
    if marker.exists() and (checkpoint_dir / "last.pt").exists():
        saved = read_json(marker)
        if saved.get("config_hash") == chash:
            return MlflowTracker.resume(saved["tracking_uri"], saved["run_id"])
        logger.info("settings changed since %s: a new MLflow run", marker)
    if args.parent_run:
        tracker = MlflowTracker.attach(args.parent_run, model_id)
    else:
        from ems.tracking.setup import tracking_setup

        parent = checkpoint_dir / "parent.json"
        tracking_setup(settings, parent)
        tracker = MlflowTracker.attach(parent, model_id)
    write_json(marker, {"tracking_uri": tracker.tracking_uri, "run_id": tracker.run_id, "config_hash": chash})
    return tracker


def _merge_overrides(settings: dict, path: str) -> dict:
    """Deep-merge a YAML file of config sections (e.g. the tuning stage's best_params.yaml)."""
    import yaml

    from ems.config import deep_merge
    from ems.errors import ConfigError

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read overrides file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: overrides must be a mapping of config sections")
    logger.info("settings overridden by %s: %s", path, data)
    return deep_merge(settings, data)


def _run_train(args: argparse.Namespace) -> int:
    import os

    from ems.train.trainer import default_checkpoint_dir, train

    settings = parse_settings(args.settings)
    for path in args.overrides or ():
        settings = _merge_overrides(settings, path)
    if args.set:  # last word: the variant's own settings and seed
        from ems.config import deep_merge

        settings = deep_merge(settings, parse_settings(args.set))
    if args.threads:
        settings.setdefault("train", {})
        if not settings["train"].get("num_threads"):
            settings["train"]["num_threads"] = args.threads
    out = Path(args.out)
    ckpt = Path(args.checkpoint_dir) if args.checkpoint_dir else default_checkpoint_dir(out)
    model_id = args.model_id or "/".join(out.resolve().parts[-2:])
    is_main = int(os.environ.get("RANK", "0")) == 0
    if is_main:
        ckpt.mkdir(parents=True, exist_ok=True)
    tracker = _tracker_for(args, settings, ckpt, model_id, is_main)
    status = "FAILED"
    try:
        summary = train(settings, args.shards, args.valid, args.tokenizer, out, tracker, model_id=model_id,
                        checkpoint_dir=ckpt, keep_checkpoints=args.keep_checkpoints, progress=not args.no_progress)
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        tracker.close(status)
    if is_main:
        logger.info("done: %s", {k: summary[k] for k in ("model_id", "best_dev_retrieval_acc", "best_step", "steps")})
    return 0


def _run_embed(args: argparse.Namespace) -> int:
    import numpy as np

    from ems.encoders.ems_encoder import EmsEncoder
    from ems.languages import canonical

    lang = canonical(args.lang)
    text = sys.stdin.buffer.read().decode("utf-8")
    sentences = text.split("\n")
    if sentences and sentences[-1] == "":
        sentences.pop()
    enc = EmsEncoder(args.model, batch_size=args.batch_size, device=args.device)
    vectors = enc.encode(sentences, lang)
    buf = io.BytesIO()
    np.save(buf, vectors)
    if args.output:
        from ems.io import atomic_open

        with atomic_open(args.output, "wb") as fh:
            fh.write(buf.getvalue())
    else:
        sys.stdout.buffer.write(buf.getvalue())
        sys.stdout.buffer.flush()
    logger.info("embedded %d sentences (%s) -> %s", len(sentences), lang, vectors.shape)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train an EMS model on token shards (resumes from its checkpoints)")
    p.add_argument("--shards", required=True, help="training shards folder (shards/train)")
    p.add_argument("--valid", required=True, help="validation shards folder (shards/valid)")
    p.add_argument("--tokenizer", required=True, help="tokenizer folder (copied into the saved model)")
    p.add_argument("--out", required=True, help="models/<model_id>/: receives model/, heads.pt, history.csv, run.json")
    p.add_argument("--settings", required=True, help='JSON with "model", "objective", "train", "tracking", "name", "results_dir"')
    p.add_argument("--overrides", action="append", help="YAML of config sections deep-merged over --settings (repeatable; e.g. best_params.yaml)")
    p.add_argument("--set", help="JSON of config sections merged last (a variant's overrides, its seed)")
    p.add_argument("--parent-run", help="parent.json from `ems tracking-setup`: this run becomes its child")
    p.add_argument("--model-id", help="<variant>/seed<seed> (default: the last two parts of --out)")
    p.add_argument("--checkpoint-dir", help="resumable checkpoints (default: OUT/checkpoints)")
    p.add_argument("--threads", type=int, help="torch CPU threads when train.num_threads is null")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep the checkpoints after success")
    p.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_train)

    e = subparsers.add_parser("embed", help="embed sentences (one per line on stdin) into a .npy on stdout")
    e.add_argument("--model", required=True, help="a saved model folder (models/<model_id>/model)")
    e.add_argument("--lang", required=True, help="language of the sentences (any code ems.languages knows)")
    e.add_argument("--batch-size", type=int, default=256)
    e.add_argument("--device", default="cpu")
    e.add_argument("--output", help="write here instead of stdout")
    e.set_defaults(func=_run_embed)
