"""Readers of the non-evaluation inputs of figures and tables.

Training histories (``models/<model_id>/history.csv``), Snakemake ``benchmark:`` TSVs
(``benchmarks/<name>/<rule>/...tsv``) and per-language training-data sizes (from the
training shards, or the data stage's stats CSV).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ems import grid
from ems.errors import DataError
from ems.io import read_json
from ems.paths import model_file

logger = logging.getLogger(__name__)

#: The dev retrieval accuracy column the trainer writes to history.csv (ems.train.evaluate).
DEV_METRIC = "dev/retrieval_acc"


def dev_metric_column(columns: Sequence[str], preferred: str | None = None) -> str:
    """The dev accuracy column: ``preferred`` or :data:`DEV_METRIC`; DataError when absent."""
    cols = list(columns)
    name = preferred or DEV_METRIC
    if name not in cols:
        raise DataError(f"history has no column {name!r} (columns: {cols})")
    return name


def read_histories(models_root: str | os.PathLike[str], model_ids: Iterable[str], metric: str | None = None) -> pd.DataFrame:
    """Long table (model_id, variant, seed, factors, step, seconds, metric, value) of dev accuracy over training."""
    frames = []
    for mid in model_ids:
        path = model_file(Path(models_root) / mid, "history")
        if not path.exists():
            logger.warning("no training history %s; learning curves skip %s", path, mid)
            continue
        df = pd.read_csv(path)
        for col in ("step", "seconds"):
            if col not in df.columns:
                raise DataError(f"{path}: history.csv has no {col!r} column (columns: {list(df.columns)})")
        col = dev_metric_column(df.columns, metric)
        sub = df[["step", "seconds", col]].dropna(subset=[col]).rename(columns={col: "value"})
        sub["metric"] = col
        parsed = grid.parse_model_id(mid) or {"variant": mid, "seed": None}
        for key, val in parsed.items():
            sub[key] = val
        sub["model_id"] = mid
        frames.append(sub)
    cols = ["model_id", "variant", "seed", *grid.FACTOR_COLUMNS, "step", "seconds", "metric", "value"]
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat(frames, ignore_index=True)
    return out[[c for c in cols if c in out.columns]]


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _rule_matchers(patterns: Mapping[str, str] | None) -> list[tuple[str, re.Pattern[str]]]:
    """(rule, regex) from ``{rule: benchmark file pattern}``; literal patterns first (most specific)."""
    from snakemake.io import regex_from_filepattern

    items = sorted((patterns or {}).items(), key=lambda kv: ("{" in kv[1], -len(kv[1])))
    return [(rule, re.compile(regex_from_filepattern(str(pat)))) for rule, pat in items]


def read_benchmarks(bench_root: str | os.PathLike[str], patterns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per benchmarked job: rule, job, seconds, max_rss_mb, cpu_time.

    The rule of a file is the rule whose ``benchmark:`` pattern (``patterns``, from the
    workflow) matches its path; without a match, the first folder under ``bench_root``.
    """
    root = Path(bench_root)
    matchers = _rule_matchers(patterns)
    rows = []
    for path in sorted(root.rglob("*.tsv")) if root.exists() else []:
        rel = path.relative_to(root)
        forms = (path.as_posix(), Path(os.path.relpath(path)).as_posix())  # patterns are relative to the workdir
        rule = next((r for r, rx in matchers if any(rx.match(f) for f in forms)), None)
        if rule is None:
            rule = rel.parts[0] if len(rel.parts) > 1 else path.stem
        job = rel.as_posix()[: -len(".tsv")]
        try:
            df = pd.read_csv(path, sep="\t")
        except (OSError, ValueError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"cannot read benchmark file {path}: {exc}") from exc
        if "s" not in df.columns:
            raise DataError(f"{path}: not a Snakemake benchmark TSV (no 's' column)")
        for _, rec in df.iterrows():  # one row per repeat
            rows.append({"rule": rule, "job": job, "seconds": _number(rec["s"]),
                         "max_rss_mb": _number(rec.get("max_rss")), "cpu_time": _number(rec.get("cpu_time"))})
    return pd.DataFrame(rows, columns=["rule", "job", "seconds", "max_rss_mb", "cpu_time"])


def language_sizes(shards_dir: str | os.PathLike[str] | None = None, stats_dir: str | os.PathLike[str] | None = None) -> pd.Series:
    """Training pairs per non-English language (descending): from the shards, else a stats CSV."""
    if shards_dir and (Path(shards_dir) / "meta.json").exists():
        meta = read_json(Path(shards_dir) / "meta.json")
        langs = meta.get("languages")
        if not isinstance(langs, list):
            raise DataError(f"{Path(shards_dir) / 'meta.json'}: no 'languages' list")
        idx = np.load(Path(shards_dir) / "src.lang.npy", mmap_mode="r")
        counts = np.bincount(np.asarray(idx, dtype=np.int64), minlength=len(langs))
        sizes = pd.Series(counts, index=langs, name="train_pairs")
        return sizes.drop(labels=["eng"], errors="ignore").sort_values(ascending=False, kind="stable")
    if stats_dir and Path(stats_dir).exists():
        for csv in sorted(Path(stats_dir).glob("*.csv")):
            df = pd.read_csv(csv)
            if "lang" not in df.columns:
                continue
            numeric = [c for c in df.columns if c != "lang" and pd.api.types.is_numeric_dtype(df[c])]
            train_cols = [c for c in numeric if "train" in c.lower()] or [c for c in numeric if "pair" in c.lower()]
            if train_cols:
                sizes = df.groupby("lang")[train_cols[0]].sum()
                sizes.name = "train_pairs"
                return sizes.drop(labels=["eng"], errors="ignore").sort_values(ascending=False, kind="stable")
    logger.warning("no training-data sizes found (shards %s, stats %s); languages ordered by name", shards_dir, stats_dir)
    return pd.Series(dtype=float, name="train_pairs")
