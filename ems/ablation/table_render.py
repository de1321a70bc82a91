"""LaTeX (booktabs) and HTML renderings of a tidy table, and their fit to a two-column page.

Input: a tidy frame (one row per cell: row, column, mean, std, ci95, ci_low, ci_high, n, best;
optionally ``spread`` = ``range`` with ``min``/``max`` for counts and times, whose spread is
shown as the range over runs), a :class:`TableSpec` (what the table shows) and
:class:`TableOptions` (``ablation.tables``: how it is typeset). Output: a LaTeX float for a
two-column IEEE/ACL paper (caption above, ``\\label`` after it) and an HTML page for the
Snakemake report. A cell is ``mean ± half-width`` while the 95% t-interval stays inside the
quantity's range, and ``mean [low, high]`` (the interval clipped to the range, as in the CSV's
``ci_low``/``ci_high``) where it would cross it; the caption names the method
(docs/ablations.md). The layout (``table``, ``table*``, ``resizebox`` or ``auto``) is checked
against the page with :mod:`ems.ablation.table_fit`: an overflow, or text scaled below the
readable size, is logged, written into the ``.tex`` and shown on the HTML page.
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

from ems import names
from ems.ablation import aggregate as agg
from ems.ablation import table_fit as tf
from ems.config import section as config_section
from ems.errors import ConfigError
from ems.io import atomic_open

logger = logging.getLogger(__name__)

TIDY_COLUMNS = ["row", "column", "mean", "std", "ci95", "ci_low", "ci_high", "n", "best"]
LAYOUTS = ("auto", "table", "table*", "resizebox")
CELLS = ("mean_ci", "compact", "mean")
HEADERS = ("full", "short")
_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
                  "τ": r"$\tau$", "±": r"$\pm$", "–": "--", "−": "$-$", "→": r"$\to$", "\u2009": r"\,"}


def latex_escape(text: object) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))


@dataclass(frozen=True)
class TableOptions:
    """How one table is typeset (``ablation.tables.<key>`` plus the section's ``percent`` and page sizes)."""

    key: str
    layout: str
    cells: str
    headers: str
    percent: bool
    page: tf.Page

    def __post_init__(self) -> None:
        for name, value, allowed in (("layout", self.layout, LAYOUTS), ("cells", self.cells, CELLS),
                                     ("headers", self.headers, HEADERS)):
            if value not in allowed:
                raise ConfigError(f"ablation.tables.{self.key}.{name} must be one of {', '.join(allowed)}, not {value!r}")


def options_for(config: Mapping[str, Any], stem: str) -> TableOptions:
    """The options of table ``stem`` (``ablation.tables``, schema defaults filled; ``scaling_<factor>`` reads ``scaling``)."""
    section = config_section(config, "ablation")["tables"]
    key = "scaling" if stem.startswith("scaling_") else stem
    if key not in section:
        raise ConfigError(f"ablation.tables.{key}: no options for table {stem!r} in the schema")
    page = tf.Page(float(section["column_width_pt"]), float(section["text_width_pt"]), float(section["min_font_pt"]))
    return TableOptions(key=key, percent=bool(section["percent"]), page=page, **section[key])


@dataclass
class TableSpec:
    """What one table shows: row and column order, row label cells, caption and, for model columns, the values' column.

    ``interval`` names the interval of the cells (``{n}``: the number of runs, ``{unit}``: ``unit``);
    the caption gets one sentence from it (:func:`interval_note`).
    """

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
    interval: str = "95% t-interval over {n} {unit}"
    unit: str = "seeds"

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


def _num(value: float, decimals: int, signed: bool = False) -> str:
    text = f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"
    return text.replace("-", "−")  # typographic minus ($-$ in LaTeX)


def _finite(value: Any) -> bool:
    try:
        return value is not None and not math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _get(rec: Any, name: str) -> Any:
    return getattr(rec, name, math.nan)


def is_clipped(rec: Any) -> bool:
    """Whether the cell's interval ``ci_low``/``ci_high`` is narrower than ``mean ± ci95`` (clipped to the range)."""
    mean, half, low, high = (_get(rec, k) for k in ("mean", "ci95", "ci_low", "ci_high"))
    if not (_finite(mean) and _finite(half)):
        return False
    tol = 1e-9 * max(1.0, abs(float(mean)) + abs(float(half)))
    return (_finite(low) and float(low) > float(mean) - float(half) + tol) or \
        (_finite(high) and float(high) < float(mean) + float(half) - tol)


def _is_range(rec: Any) -> bool:
    return _get(rec, "spread") == "range"


def cell_runs(rec: Any, scale: float, decimals: int, cells: str, signed: bool = False) -> list[tf.Run]:
    """The text of one value cell as runs (plain text, ``small`` = small type).

    ``mean_ci``: ``72.5 ± 1.5``; ``mean [0.0, 62.6]`` where the interval is clipped to the
    quantity's range; ``mean (min–max)`` for range cells (equal ends: the mean alone).
    ``compact``: the same with the interval in small type; ``mean``: the mean alone.
    """
    mean = _get(rec, "mean")
    if not _finite(mean):
        return [tf.Run("–")]
    text = _num(float(mean) * scale, decimals, signed)
    if cells == "mean":
        return [tf.Run(text)]
    if _is_range(rec):
        low, high = _get(rec, "min"), _get(rec, "max")
        if not (_finite(low) and _finite(high)) or _num(low * scale, decimals) == _num(high * scale, decimals):
            return [tf.Run(text)]
        extra, sep = f"({_num(low * scale, decimals)}–{_num(high * scale, decimals)})", " "
    elif not _finite(_get(rec, "ci95")):
        return [tf.Run(text)]
    elif is_clipped(rec):
        extra, sep = f"[{_num(rec.ci_low * scale, decimals)}, {_num(rec.ci_high * scale, decimals)}]", " "
    else:
        extra, sep = "±" + ("" if cells == "compact" else " ") + _num(rec.ci95 * scale, decimals), " "
        if cells == "compact":
            return [tf.Run(text), tf.Run(extra, small=True)]
    if cells == "compact":
        return [tf.Run(text + "\u2009"), tf.Run(extra, small=True)]
    return [tf.Run(text + sep + extra)]


def _latex(runs: Sequence[tf.Run], bold: bool) -> str:
    text = "".join(r"{\scriptsize" + ("" if latex_escape(r.text).startswith("$") else " ") + latex_escape(r.text) + "}"
                   if r.small else latex_escape(r.text) for r in runs)
    return r"\textbf{" + text + "}" if bold else text


def _plain(runs: Sequence[tf.Run]) -> str:
    return "".join(r.text for r in runs).replace("\u2009", " ")


def format_cell(mean: float, ci: float, decimals: int, cells: str = "mean_ci", signed: bool = False) -> str:
    """``mean ± ci`` (``mean`` alone when the interval is undefined or not asked for; ``–`` when missing)."""
    rec = pd.Series({"mean": mean, "ci95": ci})
    return _plain(cell_runs(rec, 1.0, decimals, cells, signed))


# ----------------------------------------------------------------------------- headers and captions
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


def _shown(tidy: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    if tidy.empty:
        return tidy
    keep = tidy["row"].astype(str).isin(set(spec.rows)) & tidy["column"].astype(str).isin(set(spec.columns))
    return tidy[keep & tidy["mean"].notna()]


def _count(values: pd.Series) -> str:
    ns = sorted({int(v) for v in values if _finite(v)})
    if not ns:
        return "?"
    return str(ns[0]) if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"


def interval_note(tidy: pd.DataFrame, spec: TableSpec, options: TableOptions) -> str:
    """One caption sentence naming what the cells show: the interval's method, n, and the clipped form if used."""
    shown = _shown(tidy, spec)
    if shown.empty:
        return ""
    ranges = shown[shown["spread"] == "range"] if "spread" in shown else shown.iloc[0:0]
    cis = shown.drop(ranges.index)
    with_ci = cis[cis["ci95"].map(_finite)]
    parts = []
    if options.cells == "mean":
        what = [spec.interval.format(n=_count(with_ci["n"]), unit=spec.unit)] if not with_ci.empty else []
        what += [f"range over {_count(ranges['n'])} {spec.unit}"] if not ranges.empty else []
        verb = "are" if len(what) > 1 else "is"
        return (f"Means; the {' and the '.join(what)} {verb} in the CSV and HTML versions.") if what else ""
    if not with_ci.empty:
        text = "mean ± half-width of the " + spec.interval.format(n=_count(with_ci["n"]), unit=spec.unit)
        if any(is_clipped(r) for r in with_ci.itertuples(index=False)):
            text += "; mean [low, high] where that interval is clipped to the quantity's range"
        parts.append(text)
    spread = ranges[ranges["min"] != ranges["max"]] if not ranges.empty else ranges
    if not spread.empty:
        parts.append(f"mean (min–max) over {_count(spread['n'])} {spec.unit}")
    if (shown["n"].fillna(0) < 2).any() and (len(with_ci) or len(ranges)):
        parts.append("the mean alone where there is one run")
    if not parts:
        return ""
    return "Cells: " + "; ".join(parts) + "."


def full_caption(spec: TableSpec, options: TableOptions, tidy: pd.DataFrame | None = None) -> str:
    _, legend = headers(spec, options)
    caption = spec.caption
    if tidy is not None:
        note = interval_note(tidy, spec, options)
        caption += (" " + note) if note else ""
    if spec.values is not None and spec.values.fraction and options.percent:
        caption += " Values in %."
    if legend:
        caption += " Columns: " + "; ".join(legend) + "."
    return caption


# ----------------------------------------------------------------------------- layout
def _lookup(tidy: pd.DataFrame) -> dict[tuple[str, str], Any]:
    return {(str(r.row), str(r.column)): r for r in tidy.itertuples(index=False)}


def _column_decimals(tidy: pd.DataFrame, spec: TableSpec, options: TableOptions) -> dict[str, tuple[float, int]]:
    out = {}
    for col in spec.columns:
        vc = spec.value_column(col)
        scale = _scale(vc, options)
        vals = (tidy.loc[tidy["column"].astype(str) == col, "mean"] * scale).tolist() if not tidy.empty else []
        out[col] = (scale, _decimals(vc, options, vals))
    return out


@dataclass
class _Grid:
    """The cells of a table as runs, row by row (header first), with their bold flags."""

    header: list[list[tf.Run]]
    rows: list[list[list[tf.Run]]]
    bold: list[list[bool]]
    gaps: list[bool]

    def columns(self) -> list[list[list[tf.Run]]]:
        return [[self.header[j], *(row[j] for row in self.rows)] for j in range(len(self.header))]

    def column_bold(self) -> list[list[bool]]:
        return [[False, *(b[j] for b in self.bold)] for j in range(len(self.header))]


def _grid(tidy: pd.DataFrame, spec: TableSpec, options: TableOptions) -> _Grid:
    lookup = _lookup(tidy)
    fmt = _column_decimals(tidy, spec, options)
    head, _ = headers(spec, options)
    rows, bold, gaps = [], [], []
    previous = None
    for row in spec.rows:
        label_cells = spec.cells_of(row)
        gaps.append(bool(spec.group_gap and previous is not None and label_cells[0]))
        previous = row
        cells = [[tf.Run(c)] for c in label_cells]
        flags = [False] * len(label_cells)
        for col in spec.columns:
            rec = lookup.get((row, col))
            if rec is None:
                cells.append([tf.Run("–")])
                flags.append(False)
                continue
            scale, dec = fmt[col]
            cells.append(cell_runs(rec, scale, dec, options.cells, spec.signed))
            flags.append(bool(rec.best))
        rows.append(cells)
        bold.append(flags)
    return _Grid([[tf.Run(h)] for h in [*spec.row_header, *head]], rows, bold, gaps)


def fit_table(tidy: pd.DataFrame, spec: TableSpec, options: TableOptions) -> tf.Fit:
    """The layout of the LaTeX table (``options.layout``; ``auto`` picks one that fits) and its numbers."""
    g = _grid(tidy, spec, options)
    width = {env: tf.tabular_width(g.columns(), g.column_bold(), sep) for env, sep in tf.TABCOLSEP.items()}
    return tf.choose(options.layout, width, options.page)


def fit_problem(fit: tf.Fit, spec: TableSpec, options: TableOptions) -> str:
    """'' when the table fits at a readable size, else one line naming the table, the problem in pt and the key."""
    problem = tf.problems(fit, options.page)
    if not problem:
        return ""
    return (f"table {spec.stem} (ablation.tables.{options.key}: layout {options.layout}, cells {options.cells}, "
            f"headers {options.headers}) is {problem}; layout auto picks one that fits")


def to_latex(tidy: pd.DataFrame, spec: TableSpec, options: TableOptions, fit: tf.Fit | None = None) -> str:
    """A booktabs float: caption above, ``\\label`` after it, cells as ``options.cells``, best cells bold."""
    fit = fit or fit_table(tidy, spec, options)
    g = _grid(tidy, spec, options)
    n_label = len(spec.row_header)
    body = [r"\begin{tabular}{" + "l" * n_label + "r" * len(spec.columns) + "}", r"\toprule",
            " & ".join(_latex(h, False) for h in g.header) + r" \\", r"\midrule"]
    for cells, flags, gap in zip(g.rows, g.bold, g.gaps):
        if gap:
            body.append(r"\addlinespace")
        body.append(" & ".join(_latex(c, b) for c, b in zip(cells, flags)) + r" \\")
    body += [r"\bottomrule", r"\end{tabular}"]
    problem = fit_problem(fit, spec, options)
    lines = [f"% {spec.stem}: needs \\usepackage{{booktabs}}" + (" and graphicx" if fit.scaled else ""), fit.comment(),
             *([f"% WARNING: {problem}"] if problem else []),
             rf"\begin{{{fit.env}}}[t]", r"\centering",
             r"\caption{" + latex_escape(full_caption(spec, options, tidy)) + "}", rf"\label{{tab:{spec.stem}}}",
             r"\small"]
    if fit.env == "table":
        lines.append(r"\setlength{\tabcolsep}{4pt}")
    if fit.scaled:
        line = r"\columnwidth" if fit.env == "table" else r"\textwidth"
        lines += [rf"\resizebox{{{line}}}{{!}}{{%", *body, "}"]
    else:
        lines += body
    lines += [rf"\end{{{fit.env}}}", ""]
    return "\n".join(lines)


def to_html(tidy: pd.DataFrame, spec: TableSpec, options: TableOptions, warning: str = "") -> str:
    """The same table as an HTML page (readable headers, intervals, best cells bold) for the Snakemake report."""
    full = replace(options, headers="full", cells="mean_ci")
    g = _grid(tidy, spec, full)
    rows = [[html.escape(_plain(c)) if not b else f"<b>{html.escape(_plain(c))}</b>" for c, b in zip(cells, flags)]
            for cells, flags in zip(g.rows, g.bold)]
    frame = pd.DataFrame(rows, columns=[_plain(h) for h in g.header])
    table = frame.to_html(index=False, escape=False, border=0, classes="ems-table")
    return html_page(spec.stem, full_caption(spec, full, tidy), table, warning)


_STYLE = ("body{font-family:sans-serif;font-size:14px} table{border-collapse:collapse}"
          "th,td{padding:3px 10px;text-align:right;border-bottom:1px solid #ddd}"
          "th:first-child,td:first-child{text-align:left} .ems-warning{color:#a00}")


def html_page(title: str, caption: str, table_html: str, warning: str = "") -> str:
    """A self-contained HTML page around one table (the Snakemake report shows it inline)."""
    note = f"<p class=\"ems-warning\">LaTeX version: {html.escape(warning)}.</p>\n" if warning else ""
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>\n{note}<p>{html.escape(caption)}</p>\n{table_html}\n</body></html>\n")


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
                                      "(mean, sample std, 95% t-interval: half-width, and its ends clipped to the "
                                      "metric's range; number of seeds).", table))
    return Path(path)


def write_table(tidy: pd.DataFrame, out_dir: str | os.PathLike[str], spec: TableSpec,
                options: TableOptions) -> tuple[Path, Path, Path]:
    """Write ``<stem>.csv`` (tidy), ``<stem>.tex`` (booktabs float) and ``<stem>.html`` atomically.

    A LaTeX layout that does not fit the page (or scales the text below ``min_font_pt``) is
    logged as a warning, written into the ``.tex`` as a comment and shown on the HTML page.
    """
    out = Path(out_dir)
    csv_path, tex_path, html_path = (out / f"{spec.stem}.{ext}" for ext in ("csv", "tex", "html"))
    cols = [c for c in TIDY_COLUMNS if c in tidy.columns] + [c for c in tidy.columns if c not in TIDY_COLUMNS]
    agg.write_csv(tidy[cols], csv_path)
    fit = fit_table(tidy, spec, options)
    problem = fit_problem(fit, spec, options)
    if problem:
        logger.warning("%s", problem)
    with atomic_open(tex_path) as fh:
        fh.write(to_latex(tidy, spec, options, fit))
    with atomic_open(html_path) as fh:
        fh.write(to_html(tidy, spec, options, problem))
    return csv_path, tex_path, html_path
