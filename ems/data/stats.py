"""Per-language pair counts at each preparation step: a CSV and a seaborn bar figure."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ems.data.tsv import read_pairs
from ems.io import atomic_path
from ems.languages import name as language_name

logger = logging.getLogger(__name__)

STEPS = ("parsed", "clean", "decontaminated", "train", "valid")


def count_table(tables: Mapping[str, str | os.PathLike[str]]) -> pd.DataFrame:
    """``lang, name, <step>...`` counts (0 where a language is absent), languages of the
    clean corpus first, then those dropped at parse time."""
    counts = {step: read_pairs(path, usecols=["lang"])["lang"].value_counts() for step, path in tables.items()}
    frame = pd.DataFrame(counts).fillna(0).astype(int)
    frame.index.name = "lang"
    frame = frame.reset_index()
    frame.insert(1, "name", [language_name(l) for l in frame["lang"]])
    key = "clean" if "clean" in frame else frame.columns[2]
    return frame.sort_values([key, "lang"], ascending=[False, True]).reset_index(drop=True)


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


def plot_counts(table: pd.DataFrame, out_pdf: str | os.PathLike[str], out_png: str | os.PathLike[str]) -> None:
    """Grouped bars (log scale) of the languages kept after cleaning, one hue per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    steps = [s for s in STEPS if s in table.columns]
    shown = table[table.get("clean", table[steps[0]]) > 0]
    long = shown.melt(id_vars=["lang"], value_vars=steps, var_name="step", value_name="pairs")
    width = max(6.0, 0.45 * len(shown) + 2)
    fig, ax = plt.subplots(figsize=(min(width, 40), 4.5))
    sns.barplot(data=long, x="lang", y="pairs", hue="step", ax=ax, palette="viridis")
    ax.set_yscale("log")
    ax.set_xlabel("language")
    ax.set_ylabel("pairs (log scale)")
    ax.tick_params(axis="x", rotation=90)
    ax.legend(title="step", ncols=len(steps), fontsize="small", loc="upper right")
    fig.tight_layout()
    for out in (out_pdf, out_png):
        suffix = Path(out).suffix
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format=suffix.lstrip("."), dpi=150)
    plt.close(fig)


def run_stats(tables: Mapping[str, str | os.PathLike[str]], out_csv: str | os.PathLike[str],
              out_pdf: str | os.PathLike[str], out_png: str | os.PathLike[str],
              decontamination: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Counts per step; with the decontamination report, pairs removed per evaluation set too."""
    table = count_table(tables)
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
