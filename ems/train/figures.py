"""Loss-curve figure of a training run (train loss terms, dev loss, dev retrieval accuracy)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

logger = logging.getLogger(__name__)


def plot_history(history: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """Two panels: losses against step (train and dev), dev retrieval accuracy against step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from ems.io import atomic_path

    df = pd.DataFrame(list(history))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for col in [c for c in df.columns if c.startswith(("loss/", "dev/loss_"))]:
        d = df[["step", col]].dropna()
        if len(d):
            ax1.plot(d["step"], d[col], label=col, marker="o" if col.startswith("dev/") else None, ms=3)
    ax1.set_xlabel("step")
    ax1.set_ylabel("loss")
    ax1.legend(fontsize=7)
    if "dev/retrieval_acc" in df:
        d = df[["step", "dev/retrieval_acc"]].dropna()
        ax2.plot(d["step"], d["dev/retrieval_acc"], marker="o", ms=3)
    ax2.set_xlabel("step")
    ax2.set_ylabel("dev retrieval accuracy (mean over languages)")
    ax2.set_ylim(0, 1)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
