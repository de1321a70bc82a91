"""``ems`` subcommands of the data stage (docs/data.md): fetch, fetch-corpus, fetch-file, inventory, eval-keys,
prepare, plan, sample, tokenizer, binarise, merge-shards, data-stats, make-manifest."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from ems.config import parse_settings, sections, source_entry

logger = logging.getLogger(__name__)


def section_settings(text: str, *names: str) -> dict[str, Any]:
    """Validate ``--settings`` JSON of one section (or ``{section: ...}`` of several), defaults filled."""
    value = parse_settings(text)
    wrapped = value if len(names) > 1 else {names[0]: value}
    cfg = sections(wrapped, names, what="settings (--settings)")
    return cfg[names[0]] if len(names) == 1 else {s: cfg[s] for s in names}


def _mirror(arg: str | None) -> str | None:
    return arg or os.environ.get("EMS_DATA_MIRROR") or None


def _fetch(args: argparse.Namespace) -> None:
    from ems.data.fetch import fetch_source

    src = source_entry(parse_settings(args.settings))
    out = Path(args.out)
    if out.name == ".verified.json":
        out = out.parent
    fetch_source(src["repo"], src["commit"], src["paths"], out, mirror=_mirror(args.mirror))


def _fetch_corpus(args: argparse.Namespace) -> None:
    from ems.data.corpora.download import fetch_file

    fetch_file(args.url, args.out, args.lock, mirror=_mirror(args.mirror), record_new=args.record == "true")


def _fetch_file(args: argparse.Namespace) -> None:
    from ems.data.corpora.download import fetch_verified

    fetch_verified(args.url, args.out, args.sha256 or None, mirror=_mirror(args.mirror), source="expected")


def _make_manifest(args: argparse.Namespace) -> None:
    from ems.data.fetch import MANIFEST_DIR, make_manifest

    archive = Path(args.archive)
    out = Path(args.out) if args.out else MANIFEST_DIR / (archive.name.removesuffix(".tar.gz") + ".sha256")
    n = make_manifest(archive, out)
    logger.info("wrote %s (%d files)", out, n)


def _inventory(args: argparse.Namespace) -> None:
    from ems.data.corpora.testsets import inventory_path, languages_in
    from ems.io import write_json

    source = Path(args.source)
    langs = languages_in(source)
    out = Path(args.out) if args.out else inventory_path(source.name)
    write_json(out, {"source": source.name, "languages": langs})
    logger.info("wrote %s (%d languages)", out, len(langs))


def _eval_keys(args: argparse.Namespace) -> None:
    from ems.data.evalkeys import build_eval_keys, save_eval_keys

    extra = "evaluation" in parse_settings(args.settings)  # optional: {"extra_datasets": [...]}
    settings = section_settings(args.settings, "decontamination", "mining", *(("evaluation",) if extra else ()))
    sources = {"laser": args.laser, "opus_mt_testsets": args.opus, "sib200": args.sib200, "umsab": args.umsab}
    save_eval_keys(build_eval_keys(settings, sources), args.out)


def _prepare(args: argparse.Namespace) -> None:
    from ems.data.corpora import iter_pairs
    from ems.data.corpora.lines import Progress
    from ems.data.evalkeys import load_eval_keys
    from ems.data.prepare import prepare_language

    cfg = section_settings(args.settings, "corpus", "sources")
    progress = Progress()

    def pairs():
        for entry in cfg["corpus"]["sources"]:
            yield from iter_pairs(entry, cfg, args.lang, args.sources_root, progress)

    prepare_language(args.lang, pairs(), cfg["corpus"], load_eval_keys(args.eval_keys), args.out, progress)


def _plan(args: argparse.Namespace) -> None:
    from ems.data.split import make_plan, write_reports

    dirs = {lang: Path(args.root) / lang for lang in args.langs}
    plan = make_plan(dirs, section_settings(args.settings, "corpus"), args.out)
    write_reports(dirs, plan, args.sampling, args.removed, args.decontamination)


def _sample(args: argparse.Namespace) -> None:
    from ems.data.sample import sample_language

    sample_language(args.lang, args.language_dir, args.plan, args.out, args.sketch)


def _tokenizer(args: argparse.Namespace) -> None:
    from ems.data.sample import read_tokenizer_samples
    from ems.data.tokenizer import train_tokenizer

    settings = section_settings(args.settings, "tokenizer")
    if settings["model"] == "official":
        _official_tokenizer(args, settings)
        return
    dirs = {lang: Path(args.root) / lang for lang in args.langs}
    train_tokenizer(read_tokenizer_samples(dirs, settings["sample_sentences_per_language"]), args.out, settings)


def _official_tokenizer(args: argparse.Namespace, settings: dict[str, Any]) -> None:
    """The authors' SentencePiece model as our tokenizer folder; every corpus language needs its tag."""
    from ems.data.official_tokenizer import REPOSITORY_MODEL, official_tags, save_official_tokenizer
    from ems.data.pretokenize import official_code
    from ems.errors import ConfigError

    if not args.official_source:
        raise ConfigError("tokenizer.model: official needs --official-source (the fetched Mao-KU/EMS folder)")
    model_file = Path(args.official_source) / REPOSITORY_MODEL
    codes = {tag[2:-1] for tag in official_tags(model_file)}
    missing = [lang for lang in args.langs if official_code(lang) not in codes]
    if missing:
        raise ConfigError(f"tokenizer.model: official has no language tag for corpus languages {missing} "
                          f"(its tags: {sorted(codes)}); drop them from corpus.languages or use tokenizer.model: bpe")
    save_official_tokenizer(model_file, args.out, settings)


def _binarise(args: argparse.Namespace) -> None:
    from ems.data.shards import binarise

    binarise(args.input, args.tokenizer, args.out)


def _merge_shards(args: argparse.Namespace) -> None:
    from ems.data.shards import merge_shards

    merge_shards([Path(args.root) / lang for lang in args.langs], args.tokenizer, args.out)


def _stats(args: argparse.Namespace) -> None:
    from ems.data.stats import run_stats

    langs = {lang: Path(args.languages_root) / lang for lang in args.langs}
    samples = {lang: Path(args.samples_root) / lang for lang in args.langs
               if (Path(args.samples_root) / lang / "counts.json").exists()}
    run_stats(langs, samples, args.csv, args.pdf, args.png, args.decontamination)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("fetch", help="copy/download one source archive, extract its paths, verify checksums")
    p.add_argument("--settings", required=True, help='JSON of one source: {"repo", "commit", "paths"}')
    p.add_argument("--mirror", default=None, help="folder of <owner>+<repo>@<commit>.tar.gz (default or empty: $EMS_DATA_MIRROR; neither: download from GitHub)")
    p.add_argument("--out", required=True, help="results/sources/<owner>+<repo>@<commit> (or its .verified.json)")
    p.set_defaults(func=_fetch)

    p = subparsers.add_parser("fetch-corpus", help="one file of a training corpus: mirror or download, verified against its lock file")
    p.add_argument("--url", required=True, help="upstream URL (the mirror holds it at <mirror>/<host>/<path>)")
    p.add_argument("--out", required=True, help="results/sources/<source id>/<file name>")
    p.add_argument("--lock", required=True, help="sha256 lock file of the corpus (<sha256>  <file name> lines)")
    p.add_argument("--mirror", default=None, help="mirror folder (default or empty: $EMS_DATA_MIRROR)")
    p.add_argument("--record", nargs="?", const="true", default="false", choices=["true", "false"],
                   help="a file not in the lock file: record its sha256 there instead of failing (--record or --record=true)")
    p.set_defaults(func=_fetch_corpus)

    p = subparsers.add_parser("fetch-file", help="one file (mirror or download), checked against a sha256 when given")
    p.add_argument("--url", required=True, help="upstream URL (the mirror holds it at <mirror>/<host>/<path>)")
    p.add_argument("--out", required=True, help="where to put it")
    p.add_argument("--sha256", default="", help="expected sha256 (empty: not checked)")
    p.add_argument("--mirror", default=None, help="mirror folder (default or empty: $EMS_DATA_MIRROR)")
    p.set_defaults(func=_fetch_file)

    p = subparsers.add_parser("make-manifest", help="write the per-file sha256 manifest of a trusted archive")
    p.add_argument("archive")
    p.add_argument("--out", default=None, help="default: ems/resources/manifests/<archive name>.sha256")
    p.set_defaults(func=_make_manifest)

    p = subparsers.add_parser("inventory", help="the language list of a fetched OPUS-MT-testsets folder (for corpus.languages: all)")
    p.add_argument("source", help="results/sources/<owner>+<repo>@<commit>")
    p.add_argument("--out", default=None, help="default: ems/resources/inventories/<folder name>.json")
    p.set_defaults(func=_inventory)

    p = subparsers.add_parser("eval-keys", help="64-bit keys of every evaluation sentence (decontamination), built once")
    p.add_argument("--settings", required=True, help='JSON {"decontamination": ..., "mining": ..., "evaluation": {"extra_datasets": ...}}')
    p.add_argument("--laser", default=None, help="extracted LASER folder (Tatoeba v1)")
    p.add_argument("--opus", default=None, help="extracted OPUS-MT-testsets folder (FLORES-200, newstest)")
    p.add_argument("--sib200", default=None, help="extracted SIB-200 folder")
    p.add_argument("--umsab", default=None, help="extracted xlm-t folder (UMSAB)")
    p.add_argument("--out", required=True, help="output folder (keys.npy, sets.npy, sets.json)")
    p.set_defaults(func=_eval_keys)

    p = subparsers.add_parser("prepare", help="one language: read every corpus, clean, de-duplicate, decontaminate (streaming)")
    p.add_argument("--lang", required=True, help="canonical language code")
    p.add_argument("--settings", required=True, help='JSON {"corpus": {sources, min_chars, ...}, "sources": {...}}')
    p.add_argument("--sources-root", required=True, help="results/sources")
    p.add_argument("--eval-keys", required=True, help="the eval-keys folder")
    p.add_argument("--out", required=True, help="corpus/languages/<lang>")
    p.set_defaults(func=_prepare)

    p = subparsers.add_parser("plan", help="validation split and temperature targets from the per-language counts")
    p.add_argument("--root", required=True, help="corpus/languages")
    p.add_argument("--langs", required=True, nargs="+")
    p.add_argument("--settings", required=True, help="JSON of the corpus section")
    p.add_argument("--out", required=True, help="corpus/plan")
    p.add_argument("--sampling", required=True, help="CSV of per-language sampling")
    p.add_argument("--removed", required=True, help="CSV of cleaning removals per language and reason")
    p.add_argument("--decontamination", required=True, help="CSV of removals per language, evaluation set and side")
    p.set_defaults(func=_plan)

    p = subparsers.add_parser("sample", help="one language: training sample, validation pairs, tokenizer sample")
    p.add_argument("--lang", required=True)
    p.add_argument("--language-dir", required=True, help="corpus/languages/<lang>")
    p.add_argument("--plan", required=True, help="corpus/plan")
    p.add_argument("--out", required=True, help="corpus/split/<lang>")
    p.add_argument("--sketch", type=int, required=True, help="distinct sentences per side kept for the tokenizer")
    p.set_defaults(func=_sample)

    p = subparsers.add_parser("tokenizer", help="train the shared subword tokenizer on the per-language samples")
    p.add_argument("--root", required=True, help="corpus/split")
    p.add_argument("--langs", required=True, nargs="+")
    p.add_argument("--out", required=True, help="tokenizer folder")
    p.add_argument("--settings", required=True, help="JSON of the tokenizer section")
    p.add_argument("--official-source", default="", help="tokenizer.model official: the fetched Mao-KU/EMS folder")
    p.set_defaults(func=_tokenizer)

    p = subparsers.add_parser("binarise", help="encode pairs into memory-mappable token shards (streaming)")
    p.add_argument("--input", required=True)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_binarise)

    p = subparsers.add_parser("merge-shards", help="concatenate per-language shards into one split (streaming)")
    p.add_argument("--root", required=True, help="shards/parts/<split>")
    p.add_argument("--langs", required=True, nargs="+")
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_merge_shards)

    p = subparsers.add_parser("data-stats", help="per-language counts per step: CSV + figure")
    p.add_argument("--languages-root", required=True, help="corpus/languages")
    p.add_argument("--samples-root", required=True, help="corpus/split")
    p.add_argument("--langs", required=True, nargs="+")
    p.add_argument("--decontamination", default=None, help="decontamination report (pairs removed per set)")
    p.add_argument("--csv", required=True)
    p.add_argument("--pdf", required=True)
    p.add_argument("--png", required=True)
    p.set_defaults(func=_stats)
