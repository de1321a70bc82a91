"""``ems train`` (train one model, tracked in MLflow) and ``ems embed`` (sentences -> .npy)."""

from __future__ import annotations

import argparse
import io
import logging
import sys
import typing
from pathlib import Path

from ems.config import parse_settings

logger = logging.getLogger(__name__)


def _merge_overrides(settings: dict, path: str) -> dict:
    """Deep-merge a YAML file of config sections (e.g. the tuning stage's best_params.yaml)."""
    from ems.config import deep_merge, read_yaml
    from ems.errors import ConfigError

    try:
        data = read_yaml(path) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read overrides file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: overrides must be a mapping of config sections")
    logger.info("settings overridden by %s: %s", path, data)
    return deep_merge(settings, data)


def _settings(args: argparse.Namespace) -> dict:
    """--settings, then each --overrides file, then --set; --threads where train.num_threads is null."""
    settings = parse_settings(args.settings)
    for path in args.overrides or ():
        settings = _merge_overrides(settings, path)
    if args.set:  # last word: the variant's own settings and seed
        from ems.config import deep_merge

        settings = deep_merge(settings, parse_settings(args.set))
    if args.threads and isinstance(settings.get("train", {}), dict) and not settings.get("train", {}).get("num_threads"):
        settings.setdefault("train", {})["num_threads"] = args.threads
    return settings


def _run_train(args: argparse.Namespace) -> int:
    from ems.train.distributed import env_rank
    from ems.train.entry import Tracking, run_training
    from ems.train.run import resolve_run

    run = resolve_run(_settings(args), args.shards, args.valid, args.tokenizer, args.out, model_id=args.model_id,
                      checkpoint_dir=args.checkpoint_dir)  # validates everything; writes nothing
    tracking = Tracking(enabled=not args.no_tracking, parent_json=Path(args.parent_run) if args.parent_run else None,
                        run_names=args.run_names)
    summary = run_training(run, tracking, keep_checkpoints=args.keep_checkpoints, progress=not args.no_progress)
    if env_rank() == 0:
        logger.info("done: %s", {k: summary[k] for k in ("model_id", "best_dev_retrieval_acc", "best_step", "steps")})
    return 0


def _end_rank(code: int) -> None:
    """A torchrun rank whose outputs and tracking are written ends here, skipping interpreter teardown,
    where the communication threads can hang (pytorch#75097); one process exits normally."""
    from ems.train.distributed import env_world_size, exit_now

    if env_world_size() > 1:
        exit_now(code)


def read_sentences(stream: typing.BinaryIO) -> list[str]:
    """One sentence per line of UTF-8 ``stream``; DataError when it is empty or not UTF-8."""
    from ems.errors import DataError

    data = stream.read()
    if not data.strip():
        raise DataError("stdin is empty: give one sentence per line")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(f"stdin is not UTF-8 text (line {line}, byte {exc.start}: {exc.reason})") from None
    sentences = text.split("\n")
    if sentences and sentences[-1] == "":
        sentences.pop()
    return sentences


def _run_embed(args: argparse.Namespace) -> int:
    import numpy as np

    from ems.encoders.ems_encoder import EmsEncoder
    from ems.errors import ConfigError, DataError
    from ems.languages import canonical

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size: {args.batch_size}; it must be at least 1")
    if args.output and Path(args.output).is_dir():
        raise DataError(f"--output {args.output}: a folder; give the .npy file to write")
    lang = canonical(args.lang)
    sentences = read_sentences(sys.stdin.buffer)
    with_nul = sum("\x00" in s for s in sentences)
    if with_nul:
        logger.warning("%d of %d sentences hold a NUL byte (embedded as they are; is the input binary?)", with_nul,
                       len(sentences))
    enc = EmsEncoder(args.model, batch_size=args.batch_size, device=args.device)
    trained = enc.info.get("languages") or []
    if trained and lang not in trained:
        logger.warning("%s is not among the %d languages %s was trained on: its %d sentences are embedded anyway, "
                       "expect weaker vectors", lang, len(trained), args.model, len(sentences))
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
    p = subparsers.add_parser(
        "train", help="train an EMS model on token shards (resumes from its checkpoints)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=("Train one EMS model (shared encoder; XTR and/or contrastive heads) on the data stage's token\n"
                     "shards. A rerun with the same settings and data resumes from its last checkpoint; the best\n"
                     "checkpoint by dev retrieval (or dev loss: train.select_on) becomes OUT/model. The workflow's\n"
                     "train rule runs this; docs/training.md."),
        epilog=("example (the default configuration's data, one model outside the workflow):\n"
                "  ems train --shards results/default/shards/train --valid results/default/shards/valid \\\n"
                "    --tokenizer results/default/tokenizer --out results/default/models/mine/seed1 \\\n"
                "    --settings \"$(python -c 'import json, yaml; c = yaml.safe_load(open(\"config.yaml\")); "
                "print(json.dumps({k: c[k] for k in (\"name\", \"results_dir\", \"model\", \"objective\", \"train\")}))')\"\n"
                "  (add --no-tracking to skip MLflow; `ems embed --model .../model --lang deu < sentences.txt` embeds)"))
    p.add_argument("--shards", required=True, help="training shards folder (shards/train)")
    p.add_argument("--valid", required=True, help="validation shards folder (shards/valid)")
    p.add_argument("--tokenizer", required=True, help="tokenizer folder (copied into the saved model)")
    p.add_argument("--out", required=True, help="models/<model_id>/: receives model/, heads.pt, history.csv, run.json")
    p.add_argument("--settings", required=True, help='JSON with "model", "objective", "train", "tracking", "name", "results_dir"')
    p.add_argument("--overrides", action="append", help="YAML of config sections deep-merged over --settings (repeatable; e.g. best_params.yaml)")
    p.add_argument("--set", help="JSON of config sections merged last (a variant's overrides, its seed)")
    p.add_argument("--parent-run", help="parent.json from `ems tracking-setup`: this run becomes its child")
    p.add_argument("--model-id", help="<variant>/seed<seed> (default: the last two parts of --out)")
    p.add_argument("--run-names", help="tracking/run_names.json (`ems tracking-names`): the short MLflow run name")
    p.add_argument("--checkpoint-dir", help="resumable checkpoints (default: OUT/checkpoints)")
    p.add_argument("--threads", type=int, help="torch CPU threads when train.num_threads is null")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep the checkpoints after success")
    p.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (a log line every 30 s instead)")
    p.set_defaults(func=_run_train, on_exit=_end_rank)

    e = subparsers.add_parser("embed", help="embed sentences (one per line on stdin) into a .npy on stdout")
    e.add_argument("--model", required=True, help="a saved model folder (models/<model_id>/model)")
    e.add_argument("--lang", required=True, help="language of the sentences (any code ems.languages knows)")
    e.add_argument("--batch-size", type=int, default=256)
    e.add_argument("--device", default="cpu")
    e.add_argument("--output", help="write here instead of stdout")
    e.set_defaults(func=_run_embed)
