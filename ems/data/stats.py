"""Per-language pair counts at each preparation step: a CSV and a seaborn bar figure."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ems.io import atomic_path, read_json
from ems.languages import name as language_name

logger = logging.getLogger(__name__)

STEPS = ("parsed", "clean", "decontaminated", "train", "valid")


def count_table(language_dirs: Mapping[str, str | os.PathLike[str]],
                sample_dirs: Mapping[str, str | os.PathLike[str]]) -> pd.DataFrame:
    """``lang, name, <step>...`` counts (0 where a language is absent) from the per-language
    ``stats.json`` (parsed, clean, decontaminated) and ``counts.json`` (train, valid) files;
    languages with the most clean pairs first."""
    rows = []
    for lang, d in sorted(language_dirs.items()):
        stats = read_json(Path(d) / "stats.json")
        row = {"lang": lang, **{s: int(stats[s]) for s in ("parsed", "clean", "decontaminated")}}
        if lang in sample_dirs:
            counts = read_json(Path(sample_dirs[lang]) / "counts.json")
            row.update(train=int(counts["train"]), valid=int(counts["valid"]))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["lang", *STEPS]).fillna(0)
    frame[list(STEPS)] = frame[list(STEPS)].astype(int)
    frame.insert(1, "name", [language_name(l) for l in frame["lang"]])
    return frame.sort_values(["clean", "lang"], ascending=[False, True]).reset_index(drop=True)


def removal_columns(report: str | os.PathLike[str]) -> pd.DataFrame:
    """Pairs removed per language (rows) and evaluation set (columns ``removed:<set>``, extra
    datasets as ``removed:extra:<name>``) from the decontamination report."""
    removed = pd.read_csv(report, dtype={"lang": str, "reason": str})
    missing = {"lang", "reason", "removed"} - set(removed.columns)
    if missing:
        from ems.errors import DataError

        raise DataError(f"{report}: not a decontamination report (missing column(s) {sorted(missing)})")
    if removed.empty:
        return pd.DataFrame(index=pd.Index([], name="lang"))
    wide = removed.pivot_table(index="lang", columns="reason", values="removed", aggfunc="sum", fill_value=0)
    order = list(dict.fromkeys(removed["reason"]))  # the report lists sets in attribution order per language
    wide = wide[[c for c in wide.columns if c in order]]
    wide.columns = [f"removed:{c}" for c in wide.columns]
    return wide.astype(int)


#: Up to this many languages the bars stand (languages along x); more lie (languages along y).
VERTICAL_MAX_LANGUAGES = 40


def plot_counts(table: pd.DataFrame, out_pdf: str | os.PathLike[str], out_png: str | os.PathLike[str]) -> None:
    """Grouped bars (log scale, decades labelled ``1k``, ``10k``: no 5.6 pt superscript exponents) of
    the languages kept after cleaning, one hue per step; two columns wide (ems.figstyle.TWO_COLUMN_IN),
    the legend above the axes (never over bars), in the project style (ems.figstyle)."""
    import seaborn as sns

    from ems import figstyle

    steps = [s for s in STEPS if s in table.columns]
    shown = table[table.get("clean", table[steps[0]]) > 0]
    long = shown.melt(id_vars=["lang"], value_vars=steps, var_name="step", value_name="pairs")
    vertical = len(shown) <= VERTICAL_MAX_LANGUAGES
    with figstyle.style():
        height = 2.6 if vertical else 0.9 + 0.16 * len(shown)
        fig, ax = figstyle.figure("two", height)
        ax = ax[0][0]
        xy = {"x": "lang", "y": "pairs"} if vertical else {"x": "pairs", "y": "lang"}
        sns.barplot(data=long, hue="step", ax=ax, palette=figstyle.PALETTE, hue_order=steps, legend=True, **xy)
        (ax.set_yscale if vertical else ax.set_xscale)("log")
        figstyle.plain_log_axis(ax.yaxis if vertical else ax.xaxis)
        (ax.set_xlabel if vertical else ax.set_ylabel)("language")
        (ax.set_ylabel if vertical else ax.set_xlabel)("sentence pairs (log scale)")
        if vertical:
            ax.tick_params(axis="x", rotation=90)
        ax.grid(axis="x" if vertical else "y", visible=False)
        handles, labels = ax.get_legend_handles_labels()
        ax.get_legend().remove()
        figstyle.outside_legend(fig, handles, labels)
        figstyle.save_as(fig, {"pdf": out_pdf, "png": out_png})


def run_stats(language_dirs: Mapping[str, str | os.PathLike[str]], sample_dirs: Mapping[str, str | os.PathLike[str]],
              out_csv: str | os.PathLike[str], out_pdf: str | os.PathLike[str], out_png: str | os.PathLike[str],
              decontamination: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Counts per step; with the decontamination report, pairs removed per evaluation set too."""
    table = count_table(language_dirs, sample_dirs)
    if decontamination is not None:
        wide = removal_columns(decontamination)
        table = table.merge(wide, how="left", left_on="lang", right_index=True)
        table[list(wide.columns)] = table[list(wide.columns)].fillna(0).astype(int)
        logger.info("pairs removed per evaluation set: %s", {c: int(table[c].sum()) for c in wide.columns})
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    plot_counts(table, out_pdf, out_png)
    totals = {c: int(table[c].sum()) for c in STEPS if c in table.columns}
    logger.info("pairs per step: %s", totals)
    return table
