"""Figures of the ablation study in the project's one style (:mod:`ems.figstyle`), each as PDF and PNG.

Sizes: ``ablation_bars``, ``scaling_*`` one column (:data:`ems.figstyle.ONE_COLUMN_IN`) for up
to two metrics, else two columns (:data:`ems.figstyle.TWO_COLUMN_IN`); ``per_language_heatmap``
one column up to six cells and peers, else two; ``learning_curves`` one column;
``cost_per_job`` two columns. The variant -> colour map is fixed by grid order so a variant
has the same colour everywhere; cells are named by :func:`ems.names.variant_name`
("XTR + contrastive", not "both"). Intervals are clipped to the quantity's range
(:func:`ems.figstyle.metric_bounds`: accuracies and F1 to [0, 1]): 95% t intervals over seeds
(bars, scaling curves) and ± one standard deviation over seeds (learning-curve bands).
"""

from __future__ import annotations

import copy
import logging
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from ems import figstyle, grid
from ems.ablation import aggregate as agg
from ems.names import factor_name, model_name, variant_name

logger = logging.getLogger(__name__)

PALETTE = figstyle.PALETTE
#: Up to this many metric panels a figure fits one column.
ONE_COLUMN_PANELS = 2
PEER_STYLES = ["--", ":", "-.", (0, (5, 1))] * 4


def set_style() -> None:
    """The project style, globally (each figure function also draws inside :func:`ems.figstyle.style`)."""
    figstyle.apply()


colours = figstyle.colours


def clipped_errors(mean: Sequence[float], half: Sequence[float], bounds: tuple[float, float]) -> np.ndarray:
    """``(2, n)`` lower/upper error lengths of ``mean ± half`` with both ends clipped to ``bounds``; NaN -> 0."""
    mean = np.asarray(mean, dtype=float)
    half = np.nan_to_num(np.asarray(half, dtype=float), nan=0.0)
    low, high = np.clip(mean - half, *bounds), np.clip(mean + half, *bounds)
    return np.nan_to_num(np.vstack([mean - low, high - mean]), nan=0.0).clip(min=0.0)


def _width(n_panels: int) -> str:
    return "one" if n_panels <= ONE_COLUMN_PANELS else "two"


def _title(metric: str, n_panels: int) -> str:
    """The metric's headline label, on two lines when more than three panels share the width."""
    label = figstyle.metric_label(metric)
    return textwrap.fill(label, 12, break_long_words=False) if n_panels > 3 else label


#: Tick steps without 2.5 (0.25 steps print as three-digit labels that collide in narrow panels).
TICKS = MaxNLocator(3, steps=[1, 2, 5, 10])


def _empty(out_dir: str | os.PathLike[str], stem: str, message: str) -> list[Path]:
    return figstyle.placeholder(Path(out_dir) / stem, message)


def _variant_colours(variants: list[str]) -> dict[str, tuple[float, float, float]]:
    var_col = colours(variants)
    if len(variants) > len(sns.color_palette(PALETTE)):  # colours would repeat: colour by the first factor
        first = grid.FACTORS[0].name
        level = {v: grid.parse_variant(v)[first] for v in variants}
        by_level = colours(list(dict.fromkeys(level.values())))
        var_col = {v: by_level[level[v]] for v in variants}
    return var_col


@figstyle.styled
def ablation_bars(summary: pd.DataFrame, labels: Mapping[str, str], out_dir: str | os.PathLike[str],
                  metrics: Sequence[str] | None = None, stem: str = "ablation_bars") -> list[Path]:
    """One panel per headline metric, a horizontal bar per cell (mean over seeds, 95% CI clipped to
    the metric's range), peers as dashed lines; one column for up to two metrics, else two columns."""
    present = set(summary["metric"])
    metrics = [m for m in (metrics or agg.HEADLINE) if m in present]
    if not metrics:
        return _empty(out_dir, stem, "no headline metric was evaluated")
    ems_rows = summary[~summary["is_peer"].astype(bool)]
    variants = list(dict.fromkeys(ems_rows["variant"]))
    peers = list(dict.fromkeys(summary.loc[summary["is_peer"].astype(bool), "variant"]))
    var_col = _variant_colours(variants)
    peer_styles = dict(zip(peers, PEER_STYLES))
    # title, x label and legend take ~1.3 in; each cell a 0.25 in bar (a 2.2 in figure at least: 1.6 in read as a strip)
    height = 1.3 + 0.25 * len(variants) + (0.25 if peers else 0.0)
    fig, axes = figstyle.figure(_width(len(metrics)), max(height, 2.2), ncols=len(metrics), sharey=True)
    pos = np.arange(len(variants))
    for ax, metric in zip(axes[0], metrics):
        sub = ems_rows[ems_rows["metric"] == metric].set_index("variant").reindex(variants)
        err = clipped_errors(sub["mean"], sub["ci95"], figstyle.metric_bounds(metric))
        ax.barh(pos, sub["mean"], color=[var_col[v] for v in variants], edgecolor="black", linewidth=0.4)
        ax.errorbar(sub["mean"], pos, xerr=err, fmt="none", ecolor="black", capsize=2, linewidth=0.8)
        for peer in peers:
            val = summary[(summary["variant"] == peer) & (summary["metric"] == metric)]["mean"]
            if not val.empty:
                ax.axvline(float(val.iloc[0]), color="dimgray", linestyle=peer_styles[peer], linewidth=1.1,
                           label=f"peer: {model_name(peer)}")
        ax.set_xlim(left=min(0.0, float(np.nanmin(sub["mean"]))))
        ax.xaxis.set_major_locator(copy.copy(TICKS))
        ax.set_title(_title(metric, len(metrics)))
        ax.grid(axis="y", visible=False)
    axes[0][0].set_yticks(pos, [variant_name(v, labels.get(v)) for v in variants])
    axes[0][0].invert_yaxis()
    fig.supxlabel("mean over seeds, 95% CI (clipped to the metric's range)")
    handles, names = [], []
    for ax in axes[0]:
        for h, n in zip(*ax.get_legend_handles_labels()):
            if n not in names:
                handles.append(h)
                names.append(n)
    figstyle.outside_legend(fig, handles, names)
    return figstyle.save(fig, Path(out_dir) / stem)


@figstyle.styled
def per_language_heatmap(per_lang: pd.DataFrame, sizes: pd.Series, labels: Mapping[str, str],
                         out_dir: str | os.PathLike[str], metric: str, task: str = "tatoeba",
                         stem: str = "per_language_heatmap") -> list[Path]:
    """Languages (rows, by training-data size, largest first) × cells and peers (columns); one column
    up to six columns of values, else two; values printed in the cells when they fit at 8 pt."""
    sub = per_lang[(per_lang["task"] == task) & (per_lang["metric"] == metric)]
    if sub.empty:
        return _empty(out_dir, stem, f"no per-language {task} {metric} values")
    table = sub.pivot_table(index="lang", columns="variant", values="mean", aggfunc="first")
    ordered = [lang for lang in sizes.index if lang in table.index]
    rest = sorted(lang for lang in table.index if lang not in set(ordered))
    table = table.reindex(ordered + rest)
    cols = list(dict.fromkeys(per_lang.loc[~per_lang["is_peer"].astype(bool), "variant"]))
    cols += [c for c in table.columns if c not in cols]
    table = table[[c for c in cols if c in table.columns]]
    table.columns = [variant_name(c, labels.get(c)) for c in table.columns]
    table.index = [f"{lang} ({int(sizes[lang]):,})" if lang in sizes.index else lang for lang in table.index]
    ncol = table.shape[1]
    width = "one" if ncol <= 6 else "two"
    cell_in = (figstyle.WIDTHS[width] - 1.9) / max(ncol, 1)  # less row labels and colour bar
    # column names ("XTR + contrastive, τ=0.05") stand upright below the map: ~0.07 in per character
    label_in = 0.07 * max((len(str(c)) for c in table.columns), default=0)
    fig, ax = figstyle.figure(width, max(2.0, 0.6 + label_in + 0.17 * table.shape[0]))
    ax = ax[0][0]
    bounded = figstyle.metric_bounds(metric) == (0.0, 1.0)
    sns.heatmap(table, annot=cell_in >= 0.32, fmt=".2f" if bounded else ".1f", cmap=figstyle.CMAP,
                cbar_kws={"label": figstyle.metric_label(f"{task}/{metric}")}, ax=ax, linewidths=0.3)
    ax.set_xlabel("")
    ax.set_ylabel("language (pairs)")
    ax.tick_params(axis="y", rotation=0)
    ax.tick_params(axis="x", rotation=90)
    return figstyle.save(fig, Path(out_dir) / stem)


def seed_band(runs: pd.DataFrame, x: str = "step") -> pd.DataFrame:
    """Mean, sample std and number of seeds of ``value`` at each ``x`` of one arm's runs.

    Each run (``model_id``) is interpolated linearly onto the union of the arm's ``x`` values
    within its own range (runs of a time budget stop at different steps), so seeds evaluated
    at different steps still average; outside a run's range it does not count.
    """
    grid_x = np.unique(runs[x].to_numpy(dtype=float))
    curves = []
    for _, run in runs.groupby("model_id", sort=False):
        run = run.sort_values(x)
        xs, ys = run[x].to_numpy(dtype=float), run["value"].to_numpy(dtype=float)
        curve = np.interp(grid_x, xs, ys)
        curve[(grid_x < xs.min()) | (grid_x > xs.max())] = np.nan
        curves.append(curve)
    values = pd.DataFrame(np.vstack(curves))  # runs × x; pandas skips NaN, std of one value is NaN
    return pd.DataFrame({x: grid_x, "mean": values.mean().to_numpy(), "std": values.std(ddof=1).to_numpy(),
                         "n": values.notna().sum().to_numpy()})


@figstyle.styled
def learning_curves(histories: pd.DataFrame, labels: Mapping[str, str], out_dir: str | os.PathLike[str],
                    stem: str = "learning_curves") -> list[Path]:
    """Dev metric against training steps (one column): per arm the mean over seeds and a band of
    ± one standard deviation over seeds (where two or more seeds reach that step), clipped to the
    metric's range. Wall-clock seconds are in the ``learning_curves`` table."""
    if histories.empty:
        return _empty(out_dir, stem, "no training histories with a dev accuracy column")
    data = histories.copy()
    data["arm"] = data["variant"].map(lambda v: variant_name(v, labels.get(v)))
    order = list(dict.fromkeys(data["arm"]))
    col = colours(order)
    metric = str(data["metric"].iloc[0])
    bounds = figstyle.metric_bounds(metric)
    fig, ax = figstyle.figure("one", 2.6)
    ax = ax[0][0]
    seeds = {arm: data.loc[data["arm"] == arm, "model_id"].nunique() for arm in order}
    same_n = len(set(seeds.values())) == 1
    for arm in order:
        band = seed_band(data[data["arm"] == arm])
        ax.plot(band["step"], band["mean"], color=col[arm], marker="o", markersize=2.5,
                label=arm if same_n else f"{arm} ({seeds[arm]} seeds)")
        has = band["n"] > 1
        lo = np.clip(band["mean"] - band["std"], *bounds)
        hi = np.clip(band["mean"] + band["std"], *bounds)
        ax.fill_between(band["step"], lo, hi, where=has, color=col[arm], alpha=0.25, linewidth=0,
                        label="_band", interpolate=False)
    ax.set_xlabel("training step")
    ax.set_ylabel(figstyle.metric_label(metric))
    if bounds == (0.0, 1.0):
        ax.set_ylim(bottom=0.0)
    ax.set_xlim(left=0)  # the step axis starts at the start of training, not at the first evaluation
    ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
    handles, names = ax.get_legend_handles_labels()
    n_seeds = f"{next(iter(seeds.values()))} seeds" if same_n else "seeds"
    figstyle.outside_legend(fig, handles, names, title=f"mean ± s.d. over {n_seeds}")
    return figstyle.save(fig, Path(out_dir) / stem)


@figstyle.styled
def scaling_curves(summary: pd.DataFrame, factor: str, out_dir: str | os.PathLike[str],
                   metrics: Sequence[str] | None = None, stem: str | None = None) -> list[Path]:
    """Headline metrics against the levels of ``factor`` (mean, 95% CI clipped to the metric's range),
    one line per other-factor combination; one column for up to two metrics, else two columns."""
    stem = stem or f"scaling_{factor}"
    present = set(summary["metric"])
    metrics = [m for m in (metrics or agg.HEADLINE) if m in present]
    data = summary[(~summary["is_peer"].astype(bool)) & summary["metric"].isin(metrics)].copy()
    if data.empty or data[factor].nunique() < 2:
        return _empty(out_dir, stem, f"{factor} has fewer than two levels with results")
    others = [f for f in grid.FACTOR_COLUMNS if f != factor and data[f].nunique() > 1]
    data["setting"] = data["variant"].map(lambda v: variant_name(v, grid.short_label(v, others)) if others else "EMS")
    settings = list(dict.fromkeys(data["setting"]))
    col = colours(settings)
    n_colours = len(sns.color_palette(PALETTE))
    styles = {s: ["-", "--", ":", "-."][(i // n_colours) % 4] for i, s in enumerate(settings)}  # colours repeat
    fig, axes = figstyle.figure(_width(len(metrics)), 2.4, ncols=len(metrics))
    for ax, metric in zip(axes[0], metrics):
        for setting in settings:
            sub = data[(data["metric"] == metric) & (data["setting"] == setting)].sort_values(factor)
            err = clipped_errors(sub["mean"], sub["ci95"], figstyle.metric_bounds(metric))
            ax.errorbar(sub[factor].astype(float), sub["mean"], yerr=err, marker="o", capsize=2,
                        color=col[setting], linestyle=styles[setting], label=setting)
        if grid.BY_NAME[factor].log_x:
            ax.set_xscale("log")
        levels = sorted(data[factor].astype(float).unique())
        ax.set_xticks(levels, [f"{v:g}" for v in levels])
        ax.minorticks_off()
        ax.set_xlabel(factor_name(factor))
        ax.yaxis.set_major_locator(copy.copy(TICKS))
        ax.set_title(_title(metric, len(metrics)))
    axes[0][0].set_ylabel("mean over seeds, 95% CI")
    if len(settings) > 1:
        figstyle.outside_legend(fig, *axes[0][0].get_legend_handles_labels())
    return figstyle.save(fig, Path(out_dir) / stem)


@figstyle.styled
def cost_per_job(bench: pd.DataFrame, out_dir: str | os.PathLike[str], stem: str = "cost_per_job") -> list[Path]:
    """Wall time and peak resident memory of each rule's jobs (dots) and their mean (bar), a legend
    saying which is which above the panels; two columns."""
    if bench.empty:
        return _empty(out_dir, stem, "no benchmark files found")
    order = bench.groupby("rule")["seconds"].sum().sort_values(ascending=False).index.tolist()
    fig, axes = figstyle.figure("two", 1.3 + 0.2 * len(order), ncols=2, sharey=True)
    bar_colour = sns.color_palette(PALETTE)[0]
    for ax, col, xlabel in ((axes[0][0], "seconds", "wall time per job (s)"),
                            (axes[0][1], "max_rss_mb", "peak RSS per job (MB)")):
        vals = bench.dropna(subset=[col])
        if vals.empty:
            ax.text(0.5, 0.5, "not measured", transform=ax.transAxes, ha="center")
            continue
        sns.barplot(data=vals, y="rule", x=col, order=order, errorbar=None, color=bar_colour, alpha=0.5, ax=ax)
        sns.stripplot(data=vals, y="rule", x=col, order=order, color="black", size=2.5, ax=ax)
        if vals[col].max() > 0 and vals[col].max() / max(vals[col][vals[col] > 0].min(), 1e-9) > 100:
            ax.set_xscale("log")
            figstyle.plain_log_axis(ax.xaxis)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("")
    handles = [Patch(facecolor=bar_colour, alpha=0.5, label="mean over the rule's jobs"),
               Line2D([], [], linestyle="none", marker="o", markersize=2.5, color="black", label="one job")]
    figstyle.outside_legend(fig, handles, [h.get_label() for h in handles])
    return figstyle.save(fig, Path(out_dir) / stem)
