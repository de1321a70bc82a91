"""CSV, LaTeX (booktabs) and HTML tables of the numbers behind each ablation figure.

Each table is a tidy CSV (one row per cell: row, column, mean, std, ci95, ci_low, ci_high, n,
best; raw keys, full precision: it is checked against MLflow), a LaTeX float for a two-column
IEEE/ACL paper and an HTML page for the Snakemake report. The LaTeX float puts the caption
above the table and ``\\label`` after it; its environment is ``table`` (one column, 3.5 in),
``table*`` (both columns, 7.16 in) or ``resizebox`` (``table`` scaled to ``\\columnwidth``),
chosen per table by ``ablation.tables`` (docs/ablations.md). Headers come from
:mod:`ems.ablation.names`; which cell is bold is decided by the builder, per table, with the
metric's direction (nothing is bold where "best" has no meaning).
"""

from __future__ import annotations

import html
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ems.ablation import aggregate as agg
from ems.ablation import grid, names
from ems.config import validate_sections
from ems.errors import ConfigError
from ems.io import atomic_open
from ems.languages import ENGLISH

logger = logging.getLogger(__name__)

TIDY_COLUMNS = ["row", "column", "mean", "std", "ci95", "ci_low", "ci_high", "n", "best"]
LAYOUTS = ("table", "table*", "resizebox")
CELLS = ("mean_ci", "compact", "mean")
HEADERS = ("full", "short")
_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
                  "τ": r"$\tau$", "±": r"$\pm$", "–": "--", "→": r"$\to$"}


def latex_escape(text: object) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))


@dataclass(frozen=True)
class TableOptions:
    """How one table is typeset (``ablation.tables.<table>`` plus ``ablation.tables.percent``)."""

    layout: str
    cells: str
    headers: str
    percent: bool

    def __post_init__(self) -> None:
        for key, value, allowed in (("layout", self.layout, LAYOUTS), ("cells", self.cells, CELLS),
                                    ("headers", self.headers, HEADERS)):
            if value not in allowed:
                raise ConfigError(f"ablation.tables: {key} must be one of {', '.join(allowed)}, not {value!r}")


def options_for(config: Mapping[str, Any], stem: str) -> TableOptions:
    """The options of table ``stem`` (``ablation.tables``, schema defaults filled; ``scaling_<factor>`` reads ``scaling``)."""
    section = validate_sections({"ablation": config.get("ablation") or {}}, ("ablation",), "ablation.tables")["ablation"]["tables"]
    key = "scaling" if stem.startswith("scaling_") else stem
    if key not in section:
        raise ConfigError(f"ablation.tables.{key}: no options for table {stem!r} in the schema")
    return TableOptions(percent=bool(section["percent"]), **section[key])


@dataclass
class TableSpec:
    """What one table shows: row and column order, row label cells, caption and, for model columns, the values' column."""

    stem: str
    caption: str
    rows: Sequence[str]
    columns: Sequence[str]
    row_header: Sequence[str] = ("",)
    row_cells: Mapping[str, Sequence[str]] = field(default_factory=dict)
    column_labels: Mapping[str, str] = field(default_factory=dict)
    values: names.Column | None = None
    signed: bool = False
    group_gap: bool = False

    def value_column(self, col: str) -> names.Column:
        return self.values if self.values is not None else names.column(col)

    def cells_of(self, row: str) -> list[str]:
        return list(self.row_cells.get(row, [row]))


# ----------------------------------------------------------------------------- numbers
def decimals_for(values: Sequence[float]) -> int:
    """3 decimals for values in [-1, 1] (fractions), 0 for values of 100 and more (steps, MB), else 1."""
    finite = [abs(v) for v in values if v is not None and not math.isnan(v)]
    if not finite:
        return 1
    top = max(finite)
    return 3 if top <= 1.0 else 0 if top >= 100 else 1


def _scale(col: names.Column, options: TableOptions) -> float:
    return 100.0 if options.percent and col.fraction else 1.0


def _decimals(col: names.Column, options: TableOptions, values: Sequence[float]) -> int:
    if col.fraction:
        return 1 if options.percent else 3
    return col.decimals if col.decimals is not None else decimals_for(values)


def _num(value: float, decimals: int, signed: bool) -> str:
    text = f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"
    return text.replace("-", "–")  # typographic minus, escaped for LaTeX as --


def format_cell(mean: float, ci: float, decimals: int, cells: str = "mean_ci", signed: bool = False) -> str:
    """``mean ± ci`` (``mean`` alone when the interval is undefined or not asked for; ``–`` when missing)."""
    if mean is None or math.isnan(mean):
        return "–"
    text = _num(mean, decimals, signed)
    if cells == "mean" or ci is None or math.isnan(ci):
        return text
    return f"{text} ± {_num(ci, decimals, False)}"


def _latex_cell(mean: float, ci: float, decimals: int, cells: str, signed: bool) -> str:
    if mean is None or math.isnan(mean):
        return "--"
    text = _num(mean, decimals, signed).replace("–", "$-$")
    if cells == "mean" or ci is None or math.isnan(ci):
        return text
    half = _num(ci, decimals, False)
    if cells == "compact":
        return text + r"{\scriptsize$\pm$" + half + "}"
    return text + r" $\pm$ " + half


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


# ----------------------------------------------------------------------------- rendering
def _header(col: names.Column, options: TableOptions, spec_label: str | None = None) -> tuple[str, str]:
    """(header text, its legend entry or '') of one column."""
    unit = "%" if col.fraction and options.percent and spec_label is None else col.unit
    if spec_label is not None:
        return spec_label, ""
    if options.headers == "short" and col.short != col.label:
        return col.short + (f" ({unit})" if unit else ""), f"{col.short} = {col.label.lower()}"
    return col.label + (f" ({unit})" if unit else ""), ""


def headers(spec: TableSpec, options: TableOptions) -> tuple[list[str], list[str]]:
    """Column headers (plain text) and the legend entries of abbreviated ones."""
    texts, legend = [], []
    for i, col in enumerate(spec.columns):
        label = spec.column_labels.get(col, col if spec.values is not None else None)
        if label is not None and options.headers == "short":  # model columns: numbered, spelled out in the caption
            texts.append(f"({i + 1})")
            legend.append(f"({i + 1}) {label}")
            continue
        text, entry = _header(names.column(col), options, label)
        texts.append(text)
        if entry:
            legend.append(entry)
    return texts, legend


def full_caption(spec: TableSpec, options: TableOptions) -> str:
    _, legend = headers(spec, options)
    caption = spec.caption
    if spec.values is not None and spec.values.fraction and options.percent:
        caption += " Values in %."
    if legend:
        caption += " Columns: " + "; ".join(legend) + "."
    return caption


def _lookup(tidy: pd.DataFrame) -> dict[tuple[str, str], Any]:
    return {(str(r.row), str(r.column)): r for r in tidy.itertuples(index=False)}


def _column_decimals(tidy: pd.DataFrame, spec: TableSpec, options: TableOptions) -> dict[str, tuple[float, int]]:
    out = {}
    for col in spec.columns:
        vc = spec.value_column(col)
        scale = _scale(vc, options)
        vals = (tidy.loc[tidy["column"].astype(str) == col, "mean"] * scale).tolist()
        out[col] = (scale, _decimals(vc, options, vals))
    return out


def to_latex(tidy: pd.DataFrame, spec: TableSpec, options: TableOptions) -> str:
    """A booktabs float: caption above, ``\\label`` after it, cells as ``options.cells``, best cells bold."""
    lookup = _lookup(tidy)
    fmt = _column_decimals(tidy, spec, options)
    head, _ = headers(spec, options)
    n_label = len(spec.row_header)
    env = "table*" if options.layout == "table*" else "table"
    body = [r"\begin{tabular}{" + "l" * n_label + "r" * len(spec.columns) + "}", r"\toprule",
            " & ".join([latex_escape(h) for h in spec.row_header] + [latex_escape(h) for h in head]) + r" \\",
            r"\midrule"]
    previous = None
    for row in spec.rows:
        label_cells = spec.cells_of(row)
        if spec.group_gap and previous is not None and label_cells[0]:
            body.append(r"\addlinespace")
        previous = row
        cells = [latex_escape(c) for c in label_cells]
        for col in spec.columns:
            rec = lookup.get((row, col))
            if rec is None:
                cells.append("--")
                continue
            scale, dec = fmt[col]
            text = _latex_cell(rec.mean * scale, rec.ci95 * scale, dec, options.cells, spec.signed)
            cells.append(r"\textbf{" + text + "}" if bool(rec.best) else text)
        body.append(" & ".join(cells) + r" \\")
    body += [r"\bottomrule", r"\end{tabular}"]
    lines = [f"% {spec.stem}: needs \\usepackage{{booktabs}}" + (" and graphicx" if options.layout == "resizebox" else ""),
             rf"\begin{{{env}}}[t]", r"\centering",
             r"\caption{" + latex_escape(full_caption(spec, options)) + "}", rf"\label{{tab:{spec.stem}}}"]
    if options.layout == "resizebox":
        lines += [r"\resizebox{\columnwidth}{!}{%", *body, "}"]
    else:
        lines += [r"\small"] + ([r"\setlength{\tabcolsep}{4pt}"] if options.layout == "table" else []) + body
    lines += [rf"\end{{{env}}}", ""]
    return "\n".join(lines)


def to_html(tidy: pd.DataFrame, spec: TableSpec, options: TableOptions) -> str:
    """The same table as an HTML page (readable headers, best cells bold) for the Snakemake report."""
    lookup = _lookup(tidy)
    fmt = _column_decimals(tidy, spec, options)
    full = replace(options, headers="full")
    head, _ = headers(spec, full)
    rows = []
    for row in spec.rows:
        cells = [html.escape(c) for c in spec.cells_of(row)]
        for col in spec.columns:
            rec = lookup.get((row, col))
            if rec is None:
                cells.append("–")
                continue
            scale, dec = fmt[col]
            text = html.escape(format_cell(rec.mean * scale, rec.ci95 * scale, dec, "mean_ci", spec.signed))
            cells.append(f"<b>{text}</b>" if bool(rec.best) else text)
        rows.append(cells)
    frame = pd.DataFrame(rows, columns=[*(h or "" for h in spec.row_header), *head])
    table = frame.to_html(index=False, escape=False, border=0, classes="ems-table")
    return html_page(spec.stem, full_caption(spec, full), table)


_STYLE = ("body{font-family:sans-serif;font-size:14px} table{border-collapse:collapse}"
          "th,td{padding:3px 10px;text-align:right;border-bottom:1px solid #ddd}"
          "th:first-child,td:first-child{text-align:left}")


def html_page(title: str, caption: str, table_html: str) -> str:
    """A self-contained HTML page around one table (the Snakemake report shows it inline)."""
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>\n<p>{html.escape(caption)}</p>\n{table_html}\n</body></html>\n")


#: Readable headers of summary.csv's columns in its HTML page.
SUMMARY_HEADERS = {"variant": "Variant", "task": "Task", "metric": "Metric (MLflow key)", "mean": "Mean",
                   "std": "Std", "ci95": "95% CI half-width", "ci_low": "CI low", "ci_high": "CI high", "n": "Seeds"}


def write_summary_html(summary: pd.DataFrame, labels: Mapping[str, str], path: str | os.PathLike[str]) -> Path:
    """summary.csv as an HTML page: one row per model, task and metric (keys as in MLflow), 4 significant digits."""
    frame = summary[[c for c in SUMMARY_HEADERS if c in summary.columns]].copy()
    if "variant" in frame:
        frame["variant"] = frame["variant"].map(lambda v: labels.get(v, v))
    if "task" in frame:
        frame["task"] = frame["task"].map(names.task_name)
    table = frame.rename(columns=SUMMARY_HEADERS).to_html(index=False, border=0, float_format=lambda v: f"{v:.4g}",
                                                          na_rep="–", classes="ems-table")
    with atomic_open(path) as fh:
        fh.write(html_page("summary", "All metrics of every grid cell and peer, aggregated over seeds "
                                      "(mean, sample std, 95% t interval, number of seeds).", table))
    return Path(path)


def write_table(tidy: pd.DataFrame, out_dir: str | os.PathLike[str], spec: TableSpec,
                options: TableOptions) -> tuple[Path, Path, Path]:
    """Write ``<stem>.csv`` (tidy), ``<stem>.tex`` (booktabs float) and ``<stem>.html`` atomically."""
    out = Path(out_dir)
    csv_path, tex_path, html_path = (out / f"{spec.stem}.{ext}" for ext in ("csv", "tex", "html"))
    cols = [c for c in TIDY_COLUMNS if c in tidy.columns] + [c for c in tidy.columns if c not in TIDY_COLUMNS]
    agg.write_csv(tidy[cols], csv_path)
    with atomic_open(tex_path) as fh:
        fh.write(to_latex(tidy, spec, options))
    with atomic_open(html_path) as fh:
        fh.write(to_html(tidy, spec, options))
    return csv_path, tex_path, html_path


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


def learning_tidy(histories: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """Per variant over seeds: best dev accuracy (bold where highest), its step, final step and training seconds."""
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
            mean, std, half, n = agg.t_interval(g[col].astype(float).tolist())
            low, high = agg.clipped_interval(mean, half, col)
            rows.append({"row": labels.get(variant, variant), "column": col, "mean": mean, "std": std, "ci95": half,
                         "ci_low": low, "ci_high": high, "n": n, "variant": variant})
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
