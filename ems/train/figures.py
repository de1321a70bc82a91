"""Loss-curve figure of a training run (train loss terms, dev loss, dev retrieval accuracy), PNG + PDF.

Two columns wide (IEEEtran's text width, 516 pt), two panels, in the project style (:mod:`ems.figstyle`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ems import figstyle

logger = logging.getLogger(__name__)

DEV_METRIC = "dev/retrieval_acc"


def curve_label(column: str) -> str:
    """``loss/total`` -> ``train total``, ``dev/loss_xtr`` -> ``dev xtr``."""
    if column.startswith("loss/"):
        return f"train {column.removeprefix('loss/').replace('_', ' ')}"
    return f"dev {column.removeprefix('dev/loss_').replace('_', ' ')}"


@figstyle.styled
def plot_history(history: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> list[Path]:
    """Two panels against training step: losses (train terms, dev terms with markers) and dev
    retrieval accuracy (mean over languages); ``path`` is the PNG, the PDF is written beside it."""
    import pandas as pd

    df = pd.DataFrame(list(history))
    fig, axes = figstyle.figure("two", 2.5, ncols=2)
    ax1, ax2 = axes[0]
    columns = [c for c in df.columns if c.startswith(("loss/", "dev/loss_"))]
    col = figstyle.colours(list(dict.fromkeys(c.removeprefix("loss/").removeprefix("dev/loss_") for c in columns)))
    for column in columns:
        d = df[["step", column]].dropna() if "step" in df else pd.DataFrame()
        if len(d):
            dev = column.startswith("dev/")
            term = column.removeprefix("loss/").removeprefix("dev/loss_")
            ax1.plot(d["step"], d[column], label=curve_label(column), color=col[term],
                     linestyle="--" if dev else "-", marker="o" if dev else None)
    ax1.set_xlabel("training step")
    ax1.set_ylabel("loss")
    figstyle.outside_legend(fig, *ax1.get_legend_handles_labels())  # above the panels, never over a curve
    if DEV_METRIC in df:
        d = df[["step", DEV_METRIC]].dropna()
        ax2.plot(d["step"], d[DEV_METRIC], marker="o", color=figstyle.colours(["acc"])["acc"])
    ax2.set_xlabel("training step")
    ax2.set_ylabel(f"{figstyle.metric_label(DEV_METRIC)}\n(mean over languages)")
    ax2.set_ylim(0, 1)
    return figstyle.save(fig, Path(path).with_suffix(""))
