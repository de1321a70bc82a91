"""Seaborn figures of the ablation study, each saved as PDF and PNG.

One style (whitegrid, paper context) and one colour-blind palette for all figures; the
variant -> colour map is fixed by grid order so a variant has the same colour everywhere.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ems.ablation import aggregate as agg
from ems.ablation import grid
from ems.io import atomic_path

logger = logging.getLogger(__name__)

PALETTE = "colorblind"
#: Above this many grid cells the ablation bars are drawn horizontally.
HORIZONTAL_ABOVE = 10
FORMATS = ("pdf", "png")


def set_style() -> None:
    """The one style of every figure of the project."""
    sns.set_theme(context="paper", style="whitegrid", palette=PALETTE, font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 150, "savefig.bbox": "tight", "pdf.fonttype": 42})


def colours(keys: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    pal = sns.color_palette(PALETTE, n_colors=max(len(keys), 1))
    return {k: pal[i % len(pal)] for i, k in enumerate(keys)}


def save(fig: plt.Figure, out_dir: str | os.PathLike[str], stem: str) -> list[Path]:
    """Save ``fig`` as ``<stem>.pdf`` and ``<stem>.png`` atomically; close it."""
    paths = []
    for fmt in FORMATS:
        target = Path(out_dir) / f"{stem}.{fmt}"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt)
        paths.append(target)
    plt.close(fig)
    return paths


def _empty(out_dir: str | os.PathLike[str], stem: str, message: str) -> list[Path]:
    fig, ax = plt.subplots(figsize=(5, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    logger.warning("%s: %s", stem, message)
    return save(fig, out_dir, stem)


def ablation_bars(summary: pd.DataFrame, labels: Mapping[str, str], out_dir: str | os.PathLike[str],
                  metrics: Sequence[str] | None = None, stem: str = "ablation_bars") -> list[Path]:
    """One panel per headline metric: a bar per variant (mean over seeds, 95% CI), peers as dashed lines."""
    present = set(summary["metric"])
    metrics = [m for m in (metrics or agg.HEADLINE) if m in present]
    if not metrics:
        return _empty(out_dir, stem, "no headline metric was evaluated")
    ems_rows = summary[~summary["is_peer"].astype(bool)]
    variants = list(dict.fromkeys(ems_rows["variant"]))
    peers = list(dict.fromkeys(summary.loc[summary["is_peer"].astype(bool), "variant"]))
    var_col = colours(variants)
    if len(variants) > len(sns.color_palette(PALETTE)):  # colours would repeat: colour by the first factor
        first = grid.FACTORS[0].name
        level = {v: grid.parse_variant(v)[first] for v in variants}
        by_level = colours(list(dict.fromkeys(level.values())))
        var_col = {v: by_level[level[v]] for v in variants}
    peer_styles = dict(zip(peers, ["--", ":", "-.", (0, (5, 1))] * 4))
    horizontal = len(variants) > HORIZONTAL_ABOVE  # many cells: one row per cell, readable labels
    if horizontal:
        figsize = (1.5 + 2.6 * len(metrics), 1.0 + 0.28 * len(variants))
    else:
        # at least ~2.3 in per panel so that titles of neighbouring panels never overlap
        figsize = (max(2.2 + 0.45 * len(variants) * len(metrics), 2.3 * len(metrics)), 3.4)
    fig, axes = plt.subplots(1, len(metrics), figsize=figsize, squeeze=False, sharey=horizontal)
    for ax, metric in zip(axes[0], metrics):
        sub = ems_rows[ems_rows["metric"] == metric].set_index("variant").reindex(variants)
        pos = np.arange(len(variants))
        err = sub["ci95"].fillna(0.0)
        colour = [var_col[v] for v in variants]
        names = [labels.get(v, v) for v in variants]
        if horizontal:
            ax.barh(pos, sub["mean"], color=colour, edgecolor="black", linewidth=0.4)
            ax.errorbar(sub["mean"], pos, xerr=err, fmt="none", ecolor="black", capsize=2, linewidth=1)
            ax.set_yticks(pos, names)
            ax.invert_yaxis()
            ax.set_xlabel("mean over seeds (95% CI)")
        else:
            ax.bar(pos, sub["mean"], color=colour, edgecolor="black", linewidth=0.4)
            ax.errorbar(pos, sub["mean"], yerr=err, fmt="none", ecolor="black", capsize=3, linewidth=1)
            ax.set_xticks(pos, names, rotation=35, ha="right")
            ax.set_ylabel("mean over seeds (95% CI)" if ax is axes[0][0] else "")
        for peer in peers:
            val = summary[(summary["variant"] == peer) & (summary["metric"] == metric)]["mean"]
            if not val.empty:
                line = ax.axvline if horizontal else ax.axhline
                line(float(val.iloc[0]), color="dimgray", linestyle=peer_styles[peer], linewidth=1.2, label=peer)
        ax.set_title(agg.HEADLINE.get(metric, metric))
    handles, names = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:
        for h, n in zip(*ax.get_legend_handles_labels()):
            if n not in names:
                handles.append(h)
                names.append(n)
    fig.tight_layout()
    if handles:
        fig.legend(handles, [f"peer: {n.removeprefix('peer-')}" for n in names], loc="lower center",
                   ncol=len(names), bbox_to_anchor=(0.5, 1.0), frameon=False)
    return save(fig, out_dir, stem)


def per_language_heatmap(per_lang: pd.DataFrame, sizes: pd.Series, labels: Mapping[str, str],
                         out_dir: str | os.PathLike[str], metric: str, task: str = "tatoeba",
                         stem: str = "per_language_heatmap") -> list[Path]:
    """Languages (rows, by training-data size, largest first) × variants and peers (columns)."""
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
    table.columns = [labels.get(c, c) for c in table.columns]
    table.index = [f"{lang} ({int(sizes[lang]):,})" if lang in sizes.index else lang for lang in table.index]
    ncol = table.shape[1]
    fig, ax = plt.subplots(figsize=(1.6 + 0.9 * min(ncol, 12) + 0.35 * max(0, ncol - 12), 0.8 + 0.3 * table.shape[0]))
    sns.heatmap(table, annot=ncol <= 12, fmt=".2f" if np.nanmax(table.to_numpy()) <= 1 else ".1f", cmap="viridis",
                cbar_kws={"label": f"{task} {metric}"}, ax=ax, linewidths=0.3)
    ax.set_xlabel("")
    ax.set_ylabel("language (training pairs)")
    plt.setp(ax.get_xticklabels(), rotation=35, ha="right")
    fig.tight_layout()
    return save(fig, out_dir, stem)


def learning_curves(histories: pd.DataFrame, labels: Mapping[str, str], out_dir: str | os.PathLike[str],
                    stem: str = "learning_curves") -> list[Path]:
    """Dev retrieval accuracy against training steps and against seconds; one line per run."""
    if histories.empty:
        return _empty(out_dir, stem, "no training histories with a dev accuracy column")
    data = histories.copy()
    data["variant label"] = data["variant"].map(lambda v: labels.get(v, v))
    order = list(dict.fromkeys(data["variant label"]))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    for ax, x, xlabel in ((axes[0], "step", "training step"), (axes[1], "seconds", "training seconds (wall)")):
        sns.lineplot(data=data, x=x, y="value", hue="variant label", hue_order=order, units="model_id",
                     estimator=None, palette=colours(order), ax=ax, linewidth=1.2, marker="o", markersize=3,
                     legend=ax is axes[1])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(str(data["metric"].iloc[0]))
    if axes[1].get_legend() is not None:
        sns.move_legend(axes[1], "center left", bbox_to_anchor=(1.02, 0.5), title="variant")
    fig.tight_layout()
    return save(fig, out_dir, stem)


def scaling_curves(summary: pd.DataFrame, factor: str, out_dir: str | os.PathLike[str],
                   metrics: Sequence[str] | None = None, stem: str | None = None) -> list[Path]:
    """Headline metrics against the levels of ``factor`` (mean, 95% CI), one line per other-factor combination."""
    stem = stem or f"scaling_{factor}"
    present = set(summary["metric"])
    metrics = [m for m in (metrics or agg.HEADLINE) if m in present]
    data = summary[(~summary["is_peer"].astype(bool)) & summary["metric"].isin(metrics)].copy()
    if data.empty or data[factor].nunique() < 2:
        return _empty(out_dir, stem, f"{factor} has fewer than two levels with results")
    others = [f for f in grid.FACTOR_COLUMNS if f != factor and data[f].nunique() > 1]
    data["setting"] = data["variant"].map(lambda v: grid.short_label(v, others) if others else "EMS")
    settings = list(dict.fromkeys(data["setting"]))
    col = colours(settings)
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for setting in settings:
            sub = data[(data["metric"] == metric) & (data["setting"] == setting)].sort_values(factor)
            ax.errorbar(sub[factor].astype(float), sub["mean"], yerr=sub["ci95"].fillna(0.0), marker="o",
                        capsize=3, color=col[setting], label=setting)
        if grid.BY_NAME[factor].log_x:
            ax.set_xscale("log")
        levels = sorted(data[factor].astype(float).unique())
        ax.set_xticks(levels, [f"{v:g}" for v in levels])
        ax.minorticks_off()
        ax.set_xlabel(factor.replace("_", " "))
        ax.set_title(agg.HEADLINE.get(metric, metric))
    axes[0][-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    fig.tight_layout()
    return save(fig, out_dir, stem)


def cost_per_job(bench: pd.DataFrame, out_dir: str | os.PathLike[str], stem: str = "cost_per_job") -> list[Path]:
    """Wall time and peak resident memory of each rule's jobs (points) and their mean (bar)."""
    if bench.empty:
        return _empty(out_dir, stem, "no benchmark files found")
    order = bench.groupby("rule")["seconds"].sum().sort_values(ascending=False).index.tolist()
    fig, axes = plt.subplots(1, 2, figsize=(9, 0.9 + 0.35 * len(order)), sharey=True)
    for ax, col, xlabel in ((axes[0], "seconds", "wall time per job (s)"), (axes[1], "max_rss_mb", "peak RSS per job (MB)")):
        vals = bench.dropna(subset=[col])
        if vals.empty:
            ax.text(0.5, 0.5, "not measured", transform=ax.transAxes, ha="center")
            continue
        sns.barplot(data=vals, y="rule", x=col, order=order, errorbar=None, color=sns.color_palette(PALETTE)[0],
                    alpha=0.5, ax=ax)
        sns.stripplot(data=vals, y="rule", x=col, order=order, color="black", size=3, ax=ax)
        if vals[col].max() > 0 and vals[col].max() / max(vals[col][vals[col] > 0].min(), 1e-9) > 100:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("")
    fig.tight_layout()
    return save(fig, out_dir, stem)

