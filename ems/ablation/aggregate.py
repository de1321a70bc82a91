"""Collect evaluation outputs into long tables and aggregate them over seeds.

Reads ``eval/<model_id>/<task>.json`` (flat metrics) and the per-language
``<task>.csv`` beside them, and writes: the long table (one row per model, task, metric),
per-cell summaries over seeds (mean, sample std, 95% t-interval, n), differences of every
cell to the reference cell (paired by seed where at least two seeds are shared, else
Welch), and per-language summaries.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ems import grid, names
from ems.errors import DataError
from ems.io import atomic_open, read_json
from ems.paths import ABLATION_AGGREGATE_FILES

logger = logging.getLogger(__name__)

#: Headline metrics of the paper's tables, in display order (their words: :mod:`ems.names`).
HEADLINE = names.HEADLINE
FACTOR_NAMES = list(grid.FACTOR_COLUMNS)
ID_COLUMNS = ["model_id", "variant", *FACTOR_NAMES, "seed", "is_peer"]
CONFIDENCE = 0.95


def _model_fields(model_id: str) -> dict[str, object]:
    parsed = grid.parse_model_id(model_id)
    if parsed is None:
        return {"model_id": model_id, "variant": model_id, **{f: None for f in FACTOR_NAMES},
                "seed": None, "is_peer": True}
    return {"model_id": model_id, **parsed, "is_peer": False}


def _model_id_from_path(path: Path, eval_root: Path | None) -> str:
    if eval_root is not None:
        try:
            return path.parent.relative_to(eval_root).as_posix()
        except ValueError:
            pass
    return path.parent.name


def read_eval_jsons(paths: Iterable[str | os.PathLike[str]], eval_root: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Long table of every numeric metric of every eval JSON (columns ID_COLUMNS + task, metric, value)."""
    rows: list[dict[str, object]] = []
    root = Path(eval_root) if eval_root else None
    for p in map(Path, paths):
        try:
            doc = read_json(p)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read evaluation summary {p}: {exc}") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), dict):
            raise DataError(f"{p}: expected a JSON object with a 'metrics' mapping (docs/interfaces.md)")
        model_id = str(doc.get("model_id") or _model_id_from_path(p, root))
        task = str(doc.get("task") or p.stem)
        fields = _model_fields(model_id)
        for metric, value in doc["metrics"].items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                logger.debug("%s: skipping non-numeric metric %s=%r", p, metric, value)
                continue
            rows.append({**fields, "task": task, "metric": metric, "value": float(value)})
    columns = [*ID_COLUMNS, "task", "metric", "value"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["seed"] = frame["seed"].astype("Int64")
    dup = frame.duplicated(["model_id", "metric"], keep=False)
    if dup.any():
        first = frame[dup].iloc[0]
        raise DataError(f"metric {first['metric']} of model {first['model_id']} appears in more than one eval JSON")
    return frame.sort_values(["is_peer", "variant", "seed", "task", "metric"], na_position="last").reset_index(drop=True)


def read_per_language(paths: Iterable[str | os.PathLike[str]], eval_root: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Long per-language table from ``<task>.csv`` files: ID_COLUMNS + task, lang, metric, value."""
    frames = []
    root = Path(eval_root) if eval_root else None
    for p in map(Path, paths):
        try:
            df = pd.read_csv(p)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read per-language table {p}: {exc}") from exc
        if "lang" not in df.columns:
            raise DataError(f"{p}: per-language table has no 'lang' column (columns: {list(df.columns)})")
        numeric = [c for c in df.columns if c != "lang" and pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
        long = df.melt(id_vars=["lang"], value_vars=numeric, var_name="metric", value_name="value").dropna(subset=["value"])
        fields = _model_fields(_model_id_from_path(p, root))
        for key, val in fields.items():
            long[key] = val
        long["task"] = p.stem
        frames.append(long)
    columns = [*ID_COLUMNS, "task", "lang", "metric", "value"]
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True)[columns]
    out["seed"] = out["seed"].astype("Int64")
    return out


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float, float, int]:
    """(mean, sample std, half-width of the two-sided t confidence interval, n); NaN width when n < 2."""
    arr = np.asarray([v for v in values if v is not None and not np.isnan(v)], dtype=float)
    n = len(arr)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(arr.mean())
    if n < 2:
        return mean, math.nan, math.nan, 1
    std = float(arr.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n))
    return mean, std, half, n


def clipped_interval(mean: float, half: float, metric: str) -> tuple[float, float]:
    """``mean ± half`` with both ends kept in the range the metric can take (``figstyle.metric_bounds``):
    a t-interval of an accuracy or a time is clipped, never reported below 0 or above 1."""
    from ems.figstyle import metric_bounds

    low, high = metric_bounds(metric)
    return max(mean - half, low), min(mean + half, high)


def summarise(long: pd.DataFrame, keys: Sequence[str] = ("variant", "task", "metric")) -> pd.DataFrame:
    """Mean, std, 95% CI (t) and n over seeds for each group of ``keys`` (factor columns kept)."""
    keys = list(keys)
    extra = [c for c in ["is_peer", *FACTOR_NAMES] if c in long.columns and c not in keys]
    out = []
    for key, group in long.groupby(keys, sort=False, dropna=False):
        mean, std, half, n = t_interval(group["value"].tolist())
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        for c in extra:
            row[c] = group[c].iloc[0]
        ci_low, ci_high = clipped_interval(mean, half, str(row.get("metric", "")))
        row.update(mean=mean, std=std, ci95=half, ci_low=ci_low, ci_high=ci_high, n=n)
        out.append(row)
    return pd.DataFrame(out, columns=[*keys, *extra, "mean", "std", "ci95", "ci_low", "ci_high", "n"])


def differences(long: pd.DataFrame, reference: str, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Each EMS variant minus ``reference`` per metric: paired by seed when ≥2 seeds are shared, else Welch."""
    ems = long[~long["is_peer"].astype(bool)]
    ref = ems[ems["variant"] == reference]
    rows = []
    for (variant, task, metric), group in ems[ems["variant"] != reference].groupby(["variant", "task", "metric"], sort=False):
        base = ref[(ref["task"] == task) & (ref["metric"] == metric)]
        if base.empty:
            continue
        a = group.set_index("seed")["value"]
        b = base.set_index("seed")["value"]
        common = sorted(set(a.index) & set(b.index))
        row = {"variant": variant, "reference": reference, "task": task, "metric": metric,
               **{f: group[f].iloc[0] for f in FACTOR_NAMES}}
        if len(common) >= 2:
            d = (a.loc[common] - b.loc[common]).to_numpy()
            mean, std, half, n = t_interval(d.tolist(), confidence)
            p = float(stats.ttest_rel(a.loc[common], b.loc[common]).pvalue) if std > 0 else math.nan
            row.update(method="paired", n=n, diff=mean, std=std, ci_low=mean - half, ci_high=mean + half, p_value=p)
        else:
            x, y = a.to_numpy(), b.to_numpy()
            diff = float(x.mean() - y.mean())
            if len(x) >= 2 and len(y) >= 2:
                vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
                se = math.sqrt(vx + vy)
                if se > 0:
                    dof = (vx + vy) ** 2 / (vx ** 2 / (len(x) - 1) + vy ** 2 / (len(y) - 1))
                    half = float(stats.t.ppf(0.5 + confidence / 2, dof) * se)
                    p = float(stats.ttest_ind(x, y, equal_var=False).pvalue)
                else:
                    half, p = 0.0, math.nan
            else:
                se, half, p = math.nan, math.nan, math.nan
            row.update(method="welch", n=min(len(x), len(y)), diff=diff, std=math.nan,
                       ci_low=diff - half, ci_high=diff + half, p_value=p)
        rows.append(row)
    cols = ["variant", "reference", "task", "metric", *FACTOR_NAMES, "method", "n", "diff", "std", "ci_low", "ci_high", "p_value"]
    return pd.DataFrame(rows, columns=cols)


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    with atomic_open(path) as fh:
        frame.to_csv(fh, index=False)  # full precision: the numbers are checked against MLflow


def find_eval_files(eval_root: str | os.PathLike[str], suffix: str = ".json") -> list[Path]:
    """All ``<task><suffix>`` files under ``eval_root`` (any model-id depth), sorted."""
    root = Path(eval_root)
    return sorted(p for p in root.rglob(f"*{suffix}") if p.is_file() and not p.name.startswith("."))


def aggregate(eval_jsons: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str], reference: str | None,
              eval_root: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Write long.csv, summary.csv, differences.csv, per_language_long.csv and per_language.csv to ``out_dir``."""
    if not eval_jsons:
        raise DataError("no evaluation JSON files to aggregate")
    out = Path(out_dir)
    long = read_eval_jsons(eval_jsons, eval_root)
    csvs = [Path(p).with_suffix(".csv") for p in eval_jsons if Path(p).with_suffix(".csv").exists()]
    per_lang = read_per_language(csvs, eval_root)
    summary = summarise(long)
    ems_variants = set(long.loc[~long["is_peer"].astype(bool), "variant"])
    if reference is None or reference not in ems_variants:
        if reference is not None:
            logger.warning("reference variant %s has no evaluation results; no differences table", reference)
        diffs = differences(long.iloc[0:0], reference or "")
    else:
        diffs = differences(long, reference)
    per_lang_summary = summarise(per_lang, keys=("variant", "task", "lang", "metric"))
    paths = {key: out / name for key, name in ABLATION_AGGREGATE_FILES.items()}  # the rule's outputs
    write_csv(long, paths["long"])
    write_csv(summary, paths["summary"])
    write_csv(diffs, paths["differences"])
    write_csv(per_lang, paths["per_language_long"])
    write_csv(per_lang_summary, paths["per_language"])
    logger.info("aggregated %d eval files (%d metric values, %d models) into %s",
                len(eval_jsons), len(long), long["model_id"].nunique(), out)
    return paths
