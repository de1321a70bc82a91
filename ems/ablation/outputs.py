"""Which figures and tables a configuration produces, and the functions that make them.

``figure_stems``/``table_stems`` are the single source of the output names, used both by
``workflow/rules/report.smk`` (declared outputs) and by ``make_figures``/``make_tables``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ems import grid, names
from ems.ablation import aggregate as agg
from ems.ablation import figures as figs
from ems.ablation import sources
from ems.ablation import table_render as render
from ems.ablation import tables as tabs
from ems.errors import DataError

logger = logging.getLogger(__name__)

PER_LANGUAGE_TASK = "tatoeba"
PER_LANGUAGE_METRICS = ("acc_mean", "acc", "accuracy")


def scaling_factors(config: Mapping[str, Any]) -> list[str]:
    varying = grid.varying_factors(config)
    return [f for f in grid.scaling_factors() if f in varying]


def figure_stems(config: Mapping[str, Any]) -> list[str]:
    return ["ablation_bars", "per_language_heatmap", "learning_curves", "cost_per_job",
            *[f"scaling_{f}" for f in scaling_factors(config)]]


def table_stems(config: Mapping[str, Any]) -> list[str]:
    return ["ablation", "differences", "per_language_tatoeba", "per_task_language", "learning_curves", "cost_per_job",
            *[f"scaling_{f}" for f in scaling_factors(config)]]


#: Report label of each table (``scaling_<factor>`` tables: "Scaling: <factor>").
TABLE_TITLES = {"ablation": "Headline metrics", "differences": "Differences to the reference",
                "per_language_tatoeba": "Tatoeba per language", "per_task_language": "Tasks per language (MTEB layout)",
                "learning_curves": "Training runs", "cost_per_job": "Cost per rule"}


#: Report label of each figure (``scaling_<factor>`` figures: "Scaling: <factor>").
FIGURE_TITLES = {"ablation_bars": "Headline metrics per cell", "per_language_heatmap": "Tatoeba accuracy per language",
                 "learning_curves": "Learning curves", "cost_per_job": "Cost per job"}


def figure_title(stem: str) -> str:
    if stem.startswith("scaling_"):
        return "Scaling: " + names.factor_name(stem[len("scaling_"):])
    return FIGURE_TITLES.get(stem, stem.replace("_", " "))


def table_title(stem: str) -> str:
    if stem.startswith("scaling_"):
        return "Scaling: " + stem[len("scaling_"):].replace("_", " ")
    return TABLE_TITLES.get(stem, stem.replace("_", " "))


def per_language_metric(per_lang: pd.DataFrame, task: str = PER_LANGUAGE_TASK) -> str | None:
    """The accuracy column of the per-language table of ``task`` (acc_mean, acc, else first '*acc*')."""
    metrics = list(dict.fromkeys(per_lang.loc[per_lang["task"] == task, "metric"]))
    for name in PER_LANGUAGE_METRICS:
        if name in metrics:
            return name
    return next((m for m in metrics if "acc" in m.lower()), None)


def _read(aggregate_dir: str | os.PathLike[str], name: str) -> pd.DataFrame:
    path = Path(aggregate_dir) / f"{name}.csv"
    if not path.exists():
        raise DataError(f"aggregate table missing: {path} (run `ems aggregate` first)")
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


class Inputs:
    """The aggregate tables, histories, benchmarks and language sizes of one configuration."""

    def __init__(self, config: Mapping[str, Any], aggregate_dir: str | os.PathLike[str],
                 models_root: str | os.PathLike[str] | None = None, shards_dir: str | os.PathLike[str] | None = None,
                 stats_dir: str | os.PathLike[str] | None = None, bench_root: str | os.PathLike[str] | None = None,
                 bench_patterns: Mapping[str, str] | None = None):
        self.config = config
        self.summary = _read(aggregate_dir, "summary")
        self.diffs = _read(aggregate_dir, "differences")
        self.per_lang = _read(aggregate_dir, "per_language")
        for frame in (self.summary, self.per_lang):
            if "is_peer" in frame.columns:
                frame["is_peer"] = frame["is_peer"].astype(bool)
        self.factors = grid.varying_factors(config) or ["objective"]
        variants = list(self.summary["variant"].unique()) if not self.summary.empty else []
        self.labels = tabs.variant_labels(variants, self.factors)
        ids = [m for m in grid.model_ids(config)]
        self.histories = sources.read_histories(models_root, ids) if models_root else pd.DataFrame(
            columns=["model_id", "variant", "step", "seconds", "value", "metric"])
        self.bench = sources.read_benchmarks(bench_root, bench_patterns) if bench_root else pd.DataFrame(
            columns=["rule", "job", "seconds", "max_rss_mb", "cpu_time"])
        self.sizes = sources.language_sizes(shards_dir, stats_dir)
        self.lang_metric = per_language_metric(self.per_lang) if not self.per_lang.empty else None


def make_figures(inputs: Inputs, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Draw every figure of ``figure_stems`` into ``out_dir`` (PDF + PNG each)."""
    figs.set_style()
    out: list[Path] = []
    out += figs.ablation_bars(inputs.summary, inputs.labels, out_dir)
    if inputs.lang_metric:
        out += figs.per_language_heatmap(inputs.per_lang, inputs.sizes, inputs.labels, out_dir, inputs.lang_metric)
    else:
        out += figs._empty(out_dir, "per_language_heatmap", "no per-language Tatoeba accuracy")
    out += figs.learning_curves(inputs.histories, inputs.labels, out_dir)
    out += figs.cost_per_job(inputs.bench, out_dir)
    for factor in scaling_factors(inputs.config):
        out += figs.scaling_curves(inputs.summary, factor, out_dir)
    return out


def _table(inputs: Inputs, out_dir: str | os.PathLike[str], tidy: pd.DataFrame, spec: render.TableSpec) -> list[Path]:
    return list(render.write_table(tidy, out_dir, spec, render.options_for(inputs.config, spec.stem)))


def _rows(tidy: pd.DataFrame, order: list[str] | None = None) -> list[str]:
    """Row (or column) keys of ``tidy``: those in ``order`` first, in its order, then the rest as they come."""
    present = [str(r) for r in dict.fromkeys(tidy["row"])]
    first = [r for r in order or [] if r in set(present)]
    return first + [r for r in present if r not in set(first)]


def _columns(tidy: pd.DataFrame, order: list[str]) -> list[str]:
    return _rows(tidy.assign(row=tidy["column"]), order)


def make_tables(inputs: Inputs, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write every table of ``table_stems`` into ``out_dir`` (CSV + LaTeX + HTML each)."""
    name = inputs.config.get("name", "")
    ref = grid.reference_variant(inputs.config)
    one_at_a_time = (inputs.config.get("ablation") or {}).get("design") == "one_at_a_time"
    variants = list(inputs.summary["variant"].unique()) if not inputs.summary.empty else []
    # rows and columns by human names, as in the figures ("XTR + contrastive, τ=0.05"; peers "TF-IDF")
    labels = {v: names.variant_name(v, label) for v, label in
              tabs.variant_labels(variants, inputs.factors, ref if one_at_a_time else None).items()}
    ref_label = names.variant_name(ref, inputs.labels.get(ref))
    ref_note = f" Reference: {ref_label}." if one_at_a_time else ""
    peers = [v for v in variants if v not in set(grid.variants(inputs.config))]
    models = [labels[v] for v in [*grid.variants(inputs.config), *peers] if v in labels]  # grid order, then peers
    out: list[Path] = [render.write_summary_html(inputs.summary, inputs.labels, Path(out_dir) / "summary.html")]
    metrics = [m for m in agg.HEADLINE if not inputs.summary.empty and m in set(inputs.summary["metric"])]
    head = tabs.headline_tidy(inputs.summary, labels, metrics)
    out += _table(inputs, out_dir, head, render.TableSpec(
        "ablation", f"Headline metrics of the ablation grid ({name}); "
        "best of each column in bold." + ref_note, _rows(head, models), metrics, ("Variant",)))
    diff = tabs.differences_tidy(inputs.diffs, labels, metrics) if not inputs.diffs.empty else pd.DataFrame(columns=tabs.TIDY_COLUMNS)
    out += _table(inputs, out_dir, diff, render.TableSpec(
        "differences", f"Difference to the reference cell ({ref_label}); the largest improvement of "
        "each column in bold (none where no cell improves).",
        _rows(diff, models), metrics, ("Variant",), signed=True,
        interval="95% t-interval of the difference over {n} {unit} (paired by seed where seeds are shared, else Welch)"))
    if inputs.lang_metric:
        lang = tabs.per_language_tidy(inputs.per_lang, labels, inputs.lang_metric)
        order = [lg for lg in inputs.sizes.index if lg in set(lang["row"])]
        order += sorted(set(lang["row"]) - set(order))
    else:
        lang, order = pd.DataFrame(columns=tabs.TIDY_COLUMNS), []
    lang_col = names.column(f"{PER_LANGUAGE_TASK}/{inputs.lang_metric or 'acc_mean'}")
    out += _table(inputs, out_dir, lang, render.TableSpec(
        "per_language_tatoeba", f"{lang_col.label} per language (rows ordered by training pairs); "
        "best of each language in bold.", order, _columns(lang, models),
        ("Language",), values=lang_col))
    mteb = tabs.mteb_tidy(inputs.per_lang, labels)
    mteb_rows = _rows(mteb)
    first = {r: (r.split("|", 1)[0] != mteb_rows[i - 1].split("|", 1)[0] if i else True) for i, r in enumerate(mteb_rows)}
    cells = {r: [names.task_name(r.split("|", 1)[0]) if first[r] else "", r.split("|", 1)[1]] for r in mteb_rows}
    mains = "; ".join(f"{names.task_name(t)} {names.METRICS[m]}" for t, m in names.MAIN_METRIC.items()
                      if t in set(mteb.get("task", [])))
    out += _table(inputs, out_dir, mteb, render.TableSpec(
        "per_task_language", "Main score of each task per language (rows: task and language; columns: models, as in "
        f"MTEB's subset-level results); best of each row in bold. Main scores: {mains}".rstrip(".") + ".",
        mteb_rows, _columns(mteb, models), ("Task", "Language"), cells,
        values=names.Column("main_score", "main score", "main", "", True, True), group_gap=True))
    learn = tabs.learning_tidy(inputs.histories, labels)
    out += _table(inputs, out_dir, learn, render.TableSpec(
        "learning_curves", "Training runs: best dev retrieval accuracy (highest in bold), its step, the last step and "
        "training time." + ref_note, _rows(learn, models), tabs.LEARNING_COLUMNS, ("Variant",)))
    cost = tabs.cost_tidy(inputs.bench)
    out += _table(inputs, out_dir, cost, render.TableSpec(
        "cost_per_job", "Cost per Snakemake rule from its benchmark files: per job and total.",
        _rows(cost), tabs.COST_COLUMNS, ("Rule",), unit="jobs"))
    for factor in scaling_factors(inputs.config):
        sc = tabs.scaling_tidy(inputs.summary, factor, metrics, inputs.factors, ref if one_at_a_time else None)
        out += _table(inputs, out_dir, sc, render.TableSpec(
            f"scaling_{factor}", f"Headline metrics against {factor.replace('_', ' ')}; "
            "best of each column in bold." + (" Other factors as in the reference." + ref_note if one_at_a_time else ""),
            _rows(sc), metrics, ("Setting",)))
    return out
