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

from ems.ablation import aggregate as agg
from ems.ablation import figures as figs
from ems.ablation import grid, sources
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
    return ["ablation", "differences", "per_language_tatoeba", "learning_curves", "cost_per_job",
            *[f"scaling_{f}" for f in scaling_factors(config)]]


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


def make_tables(inputs: Inputs, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write every table of ``table_stems`` into ``out_dir`` (CSV + LaTeX each)."""
    name = inputs.config.get("name", "")
    out: list[Path] = []
    metrics = [m for m in agg.HEADLINE if not inputs.summary.empty and m in set(inputs.summary["metric"])]
    head = tabs.headline_tidy(inputs.summary, inputs.labels, metrics)
    rows = list(dict.fromkeys(head["row"]))
    out += tabs.write_table(head, out_dir, "ablation", rows, metrics,
                            f"Headline metrics of the ablation grid of configuration {name}: mean over seeds ± 95% CI (t); best in bold.",
                            "variant", agg.HEADLINE)
    diff = tabs.differences_tidy(inputs.diffs, inputs.labels, metrics) if not inputs.diffs.empty else pd.DataFrame(columns=tabs.TIDY_COLUMNS)
    ref = grid.reference_variant(inputs.config)
    out += tabs.write_table(diff, out_dir, "differences", list(dict.fromkeys(diff["row"])), metrics,
                            f"Difference to the reference cell ({inputs.labels.get(ref, ref)}) ± 95% CI "
                            "(paired by seed where possible, else Welch); largest in bold.", "variant", agg.HEADLINE)
    if inputs.lang_metric:
        lang = tabs.per_language_tidy(inputs.per_lang, inputs.labels, inputs.lang_metric)
        order = [lg for lg in inputs.sizes.index if lg in set(lang["row"])]
        order += sorted(set(lang["row"]) - set(order))
    else:
        lang, order = pd.DataFrame(columns=tabs.TIDY_COLUMNS), []
    out += tabs.write_table(lang, out_dir, "per_language_tatoeba", order, list(dict.fromkeys(lang["column"])),
                            f"Tatoeba {inputs.lang_metric} per language (ordered by training pairs), mean over seeds ± 95% CI; best per language in bold.",
                            "language")
    learn = tabs.learning_tidy(inputs.histories, inputs.labels)
    out += tabs.write_table(learn, out_dir, "learning_curves", list(dict.fromkeys(learn["row"])),
                            ["best_dev_acc", "step_of_best", "final_step", "seconds"],
                            "Training runs: best dev retrieval accuracy, step reached, training seconds; mean over seeds ± 95% CI.",
                            "variant")
    cost = tabs.cost_tidy(inputs.bench)
    out += tabs.write_table(cost, out_dir, "cost_per_job", list(dict.fromkeys(cost["row"])),
                            ["wall_s", "peak_rss_mb", "total_wall_s"],
                            "Cost per Snakemake rule from its benchmark files: mean over jobs ± 95% CI; lowest in bold.", "rule")
    for factor in scaling_factors(inputs.config):
        sc = tabs.scaling_tidy(inputs.summary, factor, metrics)
        out += tabs.write_table(sc, out_dir, f"scaling_{factor}", list(dict.fromkeys(sc["row"])), metrics,
                                f"Headline metrics against {factor.replace('_', ' ')}: mean over seeds ± 95% CI.",
                                "setting", agg.HEADLINE)
    return out
