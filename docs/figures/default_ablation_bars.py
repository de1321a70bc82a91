"""Redraw docs/figures/default_ablation_bars.png from the default grid's measured table, in the figures' current style.

Reads ``docs/measurements/default_grid_ablation_2026-12-03.csv`` (the ``ablation`` table of the
2026-12-03 run of ``config.yaml``: mean and 95% CI over 3 seeds per cell and task, the TF-IDF peer)
and draws it with the workflow's own ``ems.ablation.figures.ablation_bars``; no training, seconds.

    .venv/bin/python docs/figures/default_ablation_bars.py
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd

from ems.ablation import figures

HERE = Path(__file__).resolve().parent
TABLE = HERE.parent / "measurements" / "default_grid_ablation_2026-12-03.csv"


def main() -> None:
    tidy = pd.read_csv(TABLE)
    summary = tidy.rename(columns={"column": "metric"}).assign(is_peer=lambda f: f["variant"].str.startswith("peer-"))
    labels = dict(zip(summary["variant"], summary["row"]))
    with tempfile.TemporaryDirectory() as tmp:
        written = figures.ablation_bars(summary, labels, tmp)
        png = next(p for p in written if p.suffix == ".png")
        shutil.copy(png, HERE / "default_ablation_bars.png")
    print(HERE / "default_ablation_bars.png")


if __name__ == "__main__":
    main()
