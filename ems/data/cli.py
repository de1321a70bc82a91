"""``ems`` subcommands of the data stage (fetch, parse, clean, decontaminate, split-sample,
tokenizer, binarise, data-stats, make-manifest); see docs/data.md."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from ems.config import check, load_schema, parse_settings, schema_validator, validate_sections

logger = logging.getLogger(__name__)

def section_settings(text: str, *sections: str) -> dict[str, Any]:
    """Validate ``--settings`` JSON of one section (or ``{section: ...}`` of several), defaults filled."""
    value = parse_settings(text)
    wrapped = value if len(sections) > 1 else {sections[0]: value}
    cfg = validate_sections(wrapped, sections, "--settings", strict=True)
    return cfg[sections[0]] if len(sections) == 1 else {s: cfg[s] for s in sections}


def _fetch(args: argparse.Namespace) -> None:
    from ems.data.fetch import fetch_source

    src = parse_settings(args.settings)
    schema = load_schema()
    check(schema_validator({**schema["$defs"]["source"], "$defs": schema["$defs"]}), src, "--settings (one source)")
    mirror = args.mirror or os.environ.get("EMS_DATA_MIRROR") or None
    out = Path(args.out)
    if out.name == ".verified.json":
        out = out.parent
    fetch_source(src["repo"], src["commit"], src["paths"], out, mirror=mirror or None)


def _make_manifest(args: argparse.Namespace) -> None:
    from ems.data.fetch import MANIFEST_DIR, make_manifest

    archive = Path(args.archive)
    out = Path(args.out) if args.out else MANIFEST_DIR / (archive.name.removesuffix(".tar.gz") + ".sha256")
    n = make_manifest(archive, out)
    logger.info("wrote %s (%d files)", out, n)


def _parse(args: argparse.Namespace) -> None:
    from ems.data.parse import run_parse

    run_parse(args.source, args.out)


def _clean(args: argparse.Namespace) -> None:
    from ems.data.clean import run_clean

    run_clean(args.input, args.out, args.report, section_settings(args.settings, "corpus"))


def _decontaminate(args: argparse.Namespace) -> None:
    from ems.data.decontaminate import run_decontaminate

    extra = "evaluation" in parse_settings(args.settings)  # optional: {"extra_datasets": [...]}
    settings = section_settings(args.settings, "decontamination", "mining", *(("evaluation",) if extra else ()))
    sources = {"laser": args.laser, "opus_mt_testsets": args.opus, "sib200": args.sib200, "umsab": args.umsab}
    run_decontaminate(args.input, args.out, args.report, settings, sources)


def _split(args: argparse.Namespace) -> None:
    from ems.data.split import run_split_sample

    run_split_sample(args.input, args.train, args.valid, args.table, section_settings(args.settings, "corpus"))


def _tokenizer(args: argparse.Namespace) -> None:
    from ems.data.tokenizer import train_tokenizer

    train_tokenizer(args.input, args.out, section_settings(args.settings, "tokenizer"), seed=args.seed)


def _binarise(args: argparse.Namespace) -> None:
    from ems.data.shards import binarise

    binarise(args.input, args.tokenizer, args.out)


def _stats(args: argparse.Namespace) -> None:
    from ems.data.stats import run_stats

    tables = {"parsed": args.parsed, "clean": args.clean, "decontaminated": args.decontaminated,
              "train": args.train, "valid": args.valid}
    sibling = Path(args.decontaminated).with_name("decontamination.csv")  # written by the same job
    report = args.decontamination or (sibling if sibling.exists() else None)
    run_stats(tables, args.csv, args.pdf, args.png, report)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("fetch", help="copy/download one source archive, extract its paths, verify checksums")
    p.add_argument("--settings", required=True, help='JSON of one source: {"repo", "commit", "paths"}')
    p.add_argument("--mirror", default=None, help="folder of <owner>+<repo>@<commit>.tar.gz (default or empty: $EMS_DATA_MIRROR; neither: download from GitHub)")
    p.add_argument("--out", required=True, help="results/sources/<owner>+<repo>@<commit> (or its .verified.json)")
    p.set_defaults(func=_fetch)

    p = subparsers.add_parser("make-manifest", help="write the per-file sha256 manifest of a trusted archive")
    p.add_argument("archive")
    p.add_argument("--out", default=None, help="default: ems/resources/manifests/<archive name>.sha256")
    p.set_defaults(func=_make_manifest)

    p = subparsers.add_parser("parse", help="all X-English pairs of OPUS-MT-testsets -> parsed.tsv.gz")
    p.add_argument("--source", required=True, help="extracted OPUS-MT-testsets folder")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_parse)

    p = subparsers.add_parser("clean", help="normalise, filter and de-duplicate pairs")
    p.add_argument("--input", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--report", required=True, help="CSV of removals per language and reason")
    p.add_argument("--settings", required=True, help="JSON of the corpus section")
    p.set_defaults(func=_clean)

    p = subparsers.add_parser("decontaminate", help="drop pairs with a side in any evaluation set")
    p.add_argument("--input", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--report", required=True, help="CSV of removals per language, set and side")
    p.add_argument("--settings", required=True, help='JSON {"decontamination": ..., "mining": ...}')
    p.add_argument("--laser", default=None, help="extracted LASER folder (Tatoeba v1)")
    p.add_argument("--opus", default=None, help="extracted OPUS-MT-testsets folder (FLORES-200, newstest)")
    p.add_argument("--sib200", default=None, help="extracted SIB-200 folder")
    p.add_argument("--umsab", default=None, help="extracted xlm-t folder (UMSAB)")
    p.set_defaults(func=_decontaminate)

    p = subparsers.add_parser("split-sample", help="per-language validation split + temperature-sampled train set")
    p.add_argument("--input", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--valid", required=True)
    p.add_argument("--table", required=True, help="CSV of per-language sampling")
    p.add_argument("--settings", required=True, help="JSON of the corpus section")
    p.set_defaults(func=_split)

    p = subparsers.add_parser("tokenizer", help="train the shared subword tokenizer")
    p.add_argument("--input", required=True, help="train.tsv.gz")
    p.add_argument("--out", required=True, help="tokenizer folder")
    p.add_argument("--settings", required=True, help="JSON of the tokenizer section")
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=_tokenizer)

    p = subparsers.add_parser("binarise", help="encode pairs into memory-mappable token shards")
    p.add_argument("--input", required=True)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_binarise)

    p = subparsers.add_parser("data-stats", help="per-language counts per step: CSV + figure")
    for step in ("parsed", "clean", "decontaminated", "train", "valid"):
        p.add_argument(f"--{step}", required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--pdf", required=True)
    p.add_argument("--png", required=True)
    p.add_argument("--decontamination", default=None,
                   help="decontamination report (pairs removed per set); default: decontamination.csv beside --decontaminated")
    p.set_defaults(func=_stats)
