"""CSV and LaTeX (booktabs) tables of the numbers behind each ablation figure.

Each table is a tidy CSV (one row per cell: row, column, mean, std, ci95, ci_low, ci_high,
n, best) and a LaTeX tabular with "mean ± CI" cells and the best value of each column (or
row) in bold.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ems.ablation import aggregate as agg
from ems.ablation import grid
from ems.errors import ConfigError
from ems.io import atomic_open

logger = logging.getLogger(__name__)

TIDY_COLUMNS = ["row", "column", "mean", "std", "ci95", "ci_low", "ci_high", "n", "best"]
_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
                  "τ": r"$\tau$", "±": r"$\pm$", "–": "--"}


def latex_escape(text: object) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))


def decimals_for(values: Sequence[float]) -> int:
    """3 decimals for values in [-1, 1] (fractions), 1 decimal otherwise (percentages, seconds)."""
    finite = [abs(v) for v in values if v is not None and not math.isnan(v)]
    return 3 if finite and max(finite) <= 1.0 else 1


def format_cell(mean: float, ci: float, decimals: int) -> str:
    """``mean ± ci`` (just ``mean`` when the interval is undefined, ``–`` when missing)."""
    if mean is None or math.isnan(mean):
        return "–"
    if ci is None or math.isnan(ci):
        return f"{mean:.{decimals}f}"
    return f"{mean:.{decimals}f} ± {ci:.{decimals}f}"


def mark_best(tidy: pd.DataFrame, by: str = "column", higher_is_better: bool | Mapping[str, bool] = True) -> pd.DataFrame:
    """Set ``best`` True on the best mean within each ``by`` group (ties all marked)."""
    tidy = tidy.copy()
    tidy["best"] = False
    for key, group in tidy.groupby(by, sort=False):
        hib = higher_is_better.get(key, True) if isinstance(higher_is_better, Mapping) else higher_is_better
        vals = group["mean"].dropna()
        if vals.empty:
            continue
        target = vals.max() if hib else vals.min()
        tidy.loc[group.index[group["mean"] == target], "best"] = True
    return tidy


def to_latex(tidy: pd.DataFrame, row_order: Sequence[str], col_order: Sequence[str], caption: str, label: str,
             row_header: str = "", col_labels: Mapping[str, str] | None = None) -> str:
    """A booktabs tabular of ``mean ± ci95`` with best cells bold (as marked in ``tidy['best']``)."""
    col_labels = col_labels or {}
    lookup = {(r.row, r.column): r for r in tidy.itertuples(index=False)}
    decimals = {c: decimals_for(tidy.loc[tidy["column"] == c, "mean"].tolist()) for c in col_order}
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{l" + "r" * len(col_order) + "}", r"\toprule",
             " & ".join([latex_escape(row_header)] + [latex_escape(col_labels.get(c, c)) for c in col_order]) + r" \\",
             r"\midrule"]
    for row in row_order:
        cells = [latex_escape(row)]
        for col in col_order:
            rec = lookup.get((row, col))
            if rec is None:
                cells.append("--")
                continue
            text = format_cell(rec.mean, rec.ci95, decimals[col]).replace("±", r"$\pm$").replace("–", "--")
            cells.append(r"\textbf{" + text + "}" if bool(rec.best) else text)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\caption{" + latex_escape(caption) + "}",
              r"\label{" + label + "}", r"\end{table}", ""]
    return "\n".join(lines)


def write_table(tidy: pd.DataFrame, out_dir: str | os.PathLike[str], stem: str, row_order: Sequence[str],
                col_order: Sequence[str], caption: str, row_header: str = "",
                col_labels: Mapping[str, str] | None = None) -> tuple[Path, Path]:
    """Write ``<stem>.csv`` (tidy) and ``<stem>.tex`` (booktabs) atomically."""
    out = Path(out_dir)
    csv_path, tex_path = out / f"{stem}.csv", out / f"{stem}.tex"
    cols = [c for c in TIDY_COLUMNS if c in tidy.columns] + [c for c in tidy.columns if c not in TIDY_COLUMNS]
    agg.write_csv(tidy[cols], csv_path)
    with atomic_open(tex_path) as fh:
        fh.write(to_latex(tidy, row_order, col_order, caption, f"tab:{stem}", row_header, col_labels))
    return csv_path, tex_path


# ----------------------------------------------------------------------------- builders
def variant_labels(variants: Sequence[str], factors: Sequence[str]) -> dict[str, str]:
    """Readable row labels for variant ids (peers keep their id)."""
    out = {}
    for v in variants:
        try:
            out[v] = grid.short_label(v, list(factors))
        except ConfigError:  # peers and foreign ids
            out[v] = v
    return out


def headline_tidy(summary: pd.DataFrame, labels: Mapping[str, str], metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Tidy table of the headline metrics: row = variant label (peers included), column = metric key."""
    metrics = list(metrics or agg.HEADLINE)
    sub = summary[summary["metric"].isin(metrics)].copy()
    sub["row"] = sub["variant"].map(lambda v: labels.get(v, v))
    sub["column"] = sub["metric"]
    return mark_best(sub[["row", "column", "mean", "std", "ci95", "ci_low", "ci_high", "n", "variant"]].reset_index(drop=True))


def differences_tidy(diffs: pd.DataFrame, labels: Mapping[str, str], metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Tidy table of differences to the reference (ci95 = half-width of the interval)."""
    metrics = list(metrics or agg.HEADLINE)
    sub = diffs[diffs["metric"].isin(metrics)].copy()
    sub["row"] = sub["variant"].map(lambda v: labels.get(v, v))
    sub["column"] = sub["metric"]
    sub["mean"] = sub["diff"]
    sub["ci95"] = (sub["ci_high"] - sub["ci_low"]) / 2
    return mark_best(sub[["row", "column", "mean", "std", "ci95", "ci_low", "ci_high", "n", "variant", "method"]].reset_index(drop=True))


def per_language_tidy(per_lang: pd.DataFrame, labels: Mapping[str, str], metric: str, task: str = "tatoeba") -> pd.DataFrame:
    """Tidy table languages (rows) × variants (columns) of one per-language metric; best per language."""
    sub = per_lang[(per_lang["task"] == task) & (per_lang["metric"] == metric)].copy()
    sub["row"] = sub["lang"]
    sub["column"] = sub["variant"].map(lambda v: labels.get(v, v))
    return mark_best(sub[["row", "column", "mean", "std", "ci95", "ci_low", "ci_high", "n", "variant"]].reset_index(drop=True), by="row")


def learning_tidy(histories: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """Per variant over seeds: best dev accuracy, its step, final step and training seconds."""
    rows = []
    if histories.empty:
        return pd.DataFrame(columns=TIDY_COLUMNS)
    per_run = []
    for mid, g in histories.groupby("model_id", sort=False):
        best = g.loc[g["value"].idxmax()]
        per_run.append({"variant": g["variant"].iloc[0], "best_dev_acc": best["value"], "step_of_best": best["step"],
                        "final_step": g["step"].max(), "seconds": g["seconds"].max()})
    runs = pd.DataFrame(per_run)
    for variant, g in runs.groupby("variant", sort=False):
        for col in ("best_dev_acc", "step_of_best", "final_step", "seconds"):
            mean, std, half, n = agg.t_interval(g[col].astype(float).tolist())
            rows.append({"row": labels.get(variant, variant), "column": col, "mean": mean, "std": std, "ci95": half,
                         "ci_low": mean - half, "ci_high": mean + half, "n": n, "variant": variant})
    tidy = pd.DataFrame(rows)
    return mark_best(tidy, higher_is_better={"best_dev_acc": True, "step_of_best": False, "final_step": True, "seconds": False})


def cost_tidy(bench: pd.DataFrame) -> pd.DataFrame:
    """Per rule: mean wall seconds and peak memory over its jobs (ci over jobs), total seconds; lowest is best."""
    rows = []
    for rule, g in bench.groupby("rule", sort=True):
        for col, name in (("seconds", "wall_s"), ("max_rss_mb", "peak_rss_mb")):
            mean, std, half, n = agg.t_interval(g[col].astype(float).tolist())
            rows.append({"row": rule, "column": name, "mean": mean, "std": std, "ci95": half,
                         "ci_low": mean - half, "ci_high": mean + half, "n": n})
        total = float(g["seconds"].sum())
        rows.append({"row": rule, "column": "total_wall_s", "mean": total, "std": math.nan, "ci95": math.nan,
                     "ci_low": math.nan, "ci_high": math.nan, "n": len(g)})
    tidy = pd.DataFrame(rows, columns=TIDY_COLUMNS[:-1])
    return mark_best(tidy, higher_is_better=False) if not tidy.empty else tidy.assign(best=False)


def scaling_tidy(summary: pd.DataFrame, factor: str, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Headline metrics against the levels of one numeric factor, other factors at their listed levels (row = 'objective, level')."""
    metrics = list(metrics or agg.HEADLINE)
    sub = summary[(~summary["is_peer"].astype(bool)) & summary["metric"].isin(metrics)].copy()
    others = [f for f in grid.FACTOR_COLUMNS if f != factor]
    sub["row"] = sub.apply(lambda r: ", ".join([grid.short_label(r["variant"], [f]) for f in others] + [f"{factor}={float(r[factor]):g}"]), axis=1)
    sub["column"] = sub["metric"]
    return mark_best(sub[["row", "column", "mean", "std", "ci95", "ci_low", "ci_high", "n", "variant", factor]].reset_index(drop=True))
