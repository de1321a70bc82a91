"""Tidy tables behind each ablation figure: one row per cell, and which cells are bold.

Each builder turns an aggregate (``summary.csv``, ``differences.csv``, ``per_language.csv``,
training histories, benchmark files) into a tidy frame (row, column, mean, std, ci95, ci_low,
ci_high, n, best; raw keys, full precision: it is checked against MLflow), deciding per table
which cell is bold with the metric's direction (nothing is bold where "best" has no meaning).
Counts and times of training runs carry their range over seeds (``spread`` = ``range``, ``min``,
``max``) instead of a t-interval. :mod:`ems.ablation.table_render` typesets the frames.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import pandas as pd

from ems import grid, names
from ems.ablation import aggregate as agg
from ems.ablation.table_render import TIDY_COLUMNS
from ems.errors import ConfigError
from ems.languages import ENGLISH

logger = logging.getLogger(__name__)

__all__ = [
    "TIDY_COLUMNS",
    "cost_tidy",
    "differences_tidy",
    "directions",
    "headline_tidy",
    "learning_tidy",
    "mark_best",
    "mark_largest_improvement",
    "mteb_tidy",
    "per_language_tidy",
    "scaling_tidy",
    "variant_labels",
]


# ----------------------------------------------------------------------------- best cells
def mark_best(tidy: pd.DataFrame, by: str = "column",
              higher_is_better: bool | None | Mapping[str, bool | None] = True) -> pd.DataFrame:
    """Set ``best`` on the best mean of each ``by`` group (ties all marked).

    Nothing is marked where the direction is ``None`` or fewer than two values compete.
    """
    tidy = tidy.copy()
    tidy["best"] = False
    for key, group in tidy.groupby(by, sort=False):
        hib = higher_is_better.get(key) if isinstance(higher_is_better, Mapping) else higher_is_better
        vals = group["mean"].dropna()
        if hib is None or len(vals) < 2:
            continue
        target = vals.max() if hib else vals.min()
        tidy.loc[group.index[group["mean"] == target], "best"] = True
    return tidy


def mark_largest_improvement(tidy: pd.DataFrame, higher_is_better: Mapping[str, bool | None]) -> pd.DataFrame:
    """Differences: per column, bold the largest improvement over the reference; a column without one has none."""
    tidy = tidy.copy()
    tidy["best"] = False
    for col, group in tidy.groupby("column", sort=False):
        hib = higher_is_better.get(col)
        if hib is None:
            continue
        gain = group["mean"] if hib else -group["mean"]
        gain = gain[gain > 0]
        if not gain.empty:
            tidy.loc[gain.index[gain == gain.max()], "best"] = True
    return tidy


def directions(columns: Sequence[str]) -> dict[str, bool | None]:
    return {c: names.column(c).higher_is_better for c in columns}


# ----------------------------------------------------------------------------- builders
REFERENCE_LABEL = "reference"


def variant_labels(variants: Sequence[str], factors: Sequence[str], reference: str | None = None) -> dict[str, str]:
    """Readable labels of variant ids (peers get their display name).

    With ``reference`` (a one-factor-at-a-time grid) a cell shows only the levels in which it
    differs from the reference cell, which is labelled ``reference``; else every varying factor.
    """
    out = {}
    ref = grid.parse_variant(reference) if reference else None
    for v in variants:
        try:
            if ref is None:
                out[v] = grid.short_label(v, list(factors))
                continue
            vals = grid.parse_variant(v)
            differ = [f for f in factors if vals[f] != ref[f]]
            out[v] = grid.short_label(v, differ) if differ else REFERENCE_LABEL
        except ConfigError:  # peers and foreign ids
            out[v] = names.model_name(v)
    return out


_TIDY = ["row", "column", "mean", "std", "ci95", "ci_low", "ci_high", "n"]


def headline_tidy(summary: pd.DataFrame, labels: Mapping[str, str], metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Tidy table of the headline metrics: row = variant label (peers included), column = metric key; best per column."""
    metrics = list(metrics or agg.HEADLINE)
    sub = summary[summary["metric"].isin(metrics)].copy()
    sub["row"] = sub["variant"].map(lambda v: labels.get(v, v))
    sub["column"] = sub["metric"]
    return mark_best(sub[[*_TIDY, "variant"]].reset_index(drop=True), higher_is_better=directions(metrics))


def differences_tidy(diffs: pd.DataFrame, labels: Mapping[str, str], metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Tidy table of differences to the reference (ci95 = half-width); the largest improvement per column bold."""
    metrics = list(metrics or agg.HEADLINE)
    sub = diffs[diffs["metric"].isin(metrics)].copy()
    sub["row"] = sub["variant"].map(lambda v: labels.get(v, v))
    sub["column"] = sub["metric"]
    sub["mean"] = sub["diff"]
    sub["ci95"] = (sub["ci_high"] - sub["ci_low"]) / 2
    return mark_largest_improvement(sub[[*_TIDY, "variant", "method"]].reset_index(drop=True), directions(metrics))


def per_language_tidy(per_lang: pd.DataFrame, labels: Mapping[str, str], metric: str, task: str = "tatoeba") -> pd.DataFrame:
    """Tidy table languages (rows) × models (columns) of one per-language metric; best per language."""
    sub = per_lang[(per_lang["task"] == task) & (per_lang["metric"] == metric)].copy()
    sub["row"] = sub["lang"]
    sub["column"] = sub["variant"].map(lambda v: labels.get(v, v))
    hib = names.column(f"{task}/{metric}").higher_is_better
    return mark_best(sub[[*_TIDY, "variant"]].reset_index(drop=True), by="row", higher_is_better=hib)


def mteb_tidy(per_lang: pd.DataFrame, labels: Mapping[str, str], tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """MTEB's subset-level layout: one row per (task, language), one column per model, cell = the task's main score.

    As ``mteb.ModelResult.to_dataframe(aggregation_level="subset", format="wide")``: rows task ×
    subset, columns models; here mean over seeds; best per row.
    """
    rows = []
    present = list(dict.fromkeys(per_lang["task"])) if not per_lang.empty else []
    ordered = [t for t in names.MAIN_METRIC if t in present] + [t for t in present if t not in names.MAIN_METRIC]
    for task in tasks or ordered:
        metric = names.MAIN_METRIC.get(task)
        if metric is None or task not in present:
            continue
        sub = per_lang[(per_lang["task"] == task) & (per_lang["metric"] == metric)].copy()
        if task in CLASSIFICATION_TASKS:  # the training language's own test is not in <task>/acc_mean
            sub = sub[sub["lang"] != ENGLISH]
        if sub.empty:
            continue
        sub["row"] = task + "|" + sub["lang"].astype(str)
        sub["column"] = sub["variant"].map(lambda v: labels.get(v, v))
        sub["task"] = task
        rows.append(sub[[*_TIDY, "variant", "task", "lang"]])
    if not rows:
        return pd.DataFrame(columns=[*TIDY_COLUMNS, "variant", "task", "lang"])
    return mark_best(pd.concat(rows, ignore_index=True), by="row", higher_is_better=True)


#: Built-in classification tasks (trained on English; their English test row is not zero-shot).
CLASSIFICATION_TASKS = ("sib200", "umsab")
LEARNING_COLUMNS = ["best_dev_acc", "step_of_best", "final_step", "seconds"]
#: Columns of the training-runs table whose spread is the range over seeds: a t-interval of a step count or
#: a duration over two or three seeds is wider than the values themselves and says nothing about them.
LEARNING_RANGE_COLUMNS = ("step_of_best", "final_step", "seconds")


def learning_tidy(histories: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """Per variant over seeds: best dev accuracy (mean, 95% t-interval, bold where highest); its step, the final
    step and training seconds as mean with min and max over seeds (``spread`` = ``range``; no interval)."""
    rows = []
    if histories.empty:
        return pd.DataFrame(columns=TIDY_COLUMNS)
    per_run = []
    for _, g in histories.groupby("model_id", sort=False):
        best = g.loc[g["value"].idxmax()]
        per_run.append({"variant": g["variant"].iloc[0], "best_dev_acc": best["value"], "step_of_best": best["step"],
                        "final_step": g["step"].max(), "seconds": g["seconds"].max()})
    runs = pd.DataFrame(per_run)
    for variant, g in runs.groupby("variant", sort=False):
        for col in LEARNING_COLUMNS:
            values = g[col].astype(float).tolist()
            mean, std, half, n = agg.t_interval(values)
            row = {"row": labels.get(variant, variant), "column": col, "mean": mean, "std": std, "n": n,
                   "variant": variant}
            if col in LEARNING_RANGE_COLUMNS:
                row.update(ci95=math.nan, ci_low=math.nan, ci_high=math.nan, spread="range",
                           min=min(values), max=max(values))
            else:
                low, high = agg.clipped_interval(mean, half, col)
                row.update(ci95=half, ci_low=low, ci_high=high, spread="ci", min=math.nan, max=math.nan)
            rows.append(row)
    return mark_best(pd.DataFrame(rows), higher_is_better=directions(LEARNING_COLUMNS))


COST_COLUMNS = ["wall_s", "peak_rss_mb", "total_wall_s"]


def cost_tidy(bench: pd.DataFrame) -> pd.DataFrame:
    """Per rule: mean wall seconds and peak memory over its jobs (ci over jobs), total seconds; nothing bold."""
    rows = []
    for rule, g in bench.groupby("rule", sort=True):
        for col, name in (("seconds", "wall_s"), ("max_rss_mb", "peak_rss_mb")):
            mean, std, half, n = agg.t_interval(g[col].astype(float).tolist())
            low, high = agg.clipped_interval(mean, half, name)
            rows.append({"row": rule, "column": name, "mean": mean, "std": std, "ci95": half,
                         "ci_low": low, "ci_high": high, "n": n})
        total = float(g["seconds"].sum())
        rows.append({"row": rule, "column": "total_wall_s", "mean": total, "std": math.nan, "ci95": math.nan,
                     "ci_low": math.nan, "ci_high": math.nan, "n": len(g)})
    tidy = pd.DataFrame(rows, columns=_TIDY)
    return mark_best(tidy, higher_is_better=directions(COST_COLUMNS))


def scaling_tidy(summary: pd.DataFrame, factor: str, metrics: Sequence[str] | None = None,
                 factors: Sequence[str] | None = None, reference: str | None = None) -> pd.DataFrame:
    """Headline metrics against the levels of one numeric factor (row = the other varying factors, then the level).

    With ``reference`` (one factor at a time) only the cells that differ from it in ``factor``
    alone are rows, labelled by the level.
    """
    metrics = list(metrics or agg.HEADLINE)
    sub = summary[(~summary["is_peer"].astype(bool)) & summary["metric"].isin(metrics)].copy()
    shown = [f for f in (factors or grid.FACTOR_COLUMNS) if f != factor] + [factor]
    if reference is not None:
        ref = grid.parse_variant(reference)
        along = {v for v in sub["variant"].unique()
                 if all(val == ref[f] for f, val in grid.parse_variant(v).items() if f != factor)}
        sub, shown = sub[sub["variant"].isin(along)], [factor]
    sub["row"] = sub["variant"].map(lambda v: grid.short_label(v, shown))
    sub["column"] = sub["metric"]
    return mark_best(sub[[*_TIDY, "variant", factor]].reset_index(drop=True), higher_is_better=directions(metrics))
