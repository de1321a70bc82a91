"""Plot evaluate_snapshots.py's CSV: each task's score against training minutes, with the TF-IDF floor.

    .venv/bin/python benchmarks/plot_snapshot_scores.py docs/measurements/<run>/snapshot_scores.csv \\
        --floor results/default/eval/peer-tfidf --mark 10 --out docs/figures/<name>

One panel per task column of the CSV (Tatoeba, FLORES, mining, ...), one line per recipe; the
floor (the peer's summary JSON of that task in ``--floor``) is a dashed line and ``--mark``
minutes (the default grid's budget) a dotted one; ``--label RECIPE=TEXT`` names a line.
Writes ``<out>.png`` and ``<out>.pdf``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ems import figstyle
from ems.names import MAIN_METRIC

META = ("recipe", "step", "seconds", "pairs", "dev_acc")


def floor_of(folder: Path | None, task: str) -> float | None:
    """The peer's primary score on ``task`` (its summary JSON), or None when it is not there."""
    path = folder / f"{task}.json" if folder else None
    if path is None or not path.is_file():
        return None
    summary = json.loads(path.read_text())
    return float(summary["metrics"][summary["primary_metric"]])


@figstyle.styled
def plot(scores: pd.DataFrame, floors: Path | None, mark: float | None, stem: Path,
         names: dict[str, str] | None = None) -> list[Path]:
    tasks = [c for c in scores.columns if c not in META and scores[c].notna().any()]
    recipes = list(dict.fromkeys(scores["recipe"]))
    colours = figstyle.colours(recipes)
    fig, axes = figstyle.figure("two", 2.3, ncols=len(tasks), sharey=True)
    handles, labels = [], []
    fl = mk = None
    for ax, task in zip(axes[0], tasks):
        for name in recipes:
            rows = scores[(scores["recipe"] == name) & scores[task].notna()]
            (line,) = ax.plot(rows["seconds"] / 60.0, rows[task], marker="o", color=colours[name])
            if ax is axes[0][0]:
                handles.append(line)
                labels.append((names or {}).get(name, name))
        floor = floor_of(floors, task)
        if floor is not None:
            fl = ax.axhline(floor, color="0.3", lw=0.9, ls="--")
        if mark is not None:
            mk = ax.axvline(mark, color="0.5", lw=0.8, ls=":")
        ax.set_title(figstyle.metric_label(f"{task}/{MAIN_METRIC.get(task, task)}"))
        ax.set_xlabel("training minutes (step time)")
        ax.set_xlim(left=0)
    axes[0][0].set_ylabel("score")
    axes[0][0].set_ylim(0, 1)
    if fl is not None:
        handles.append(fl)
        labels.append("TF-IDF floor")
    if mk is not None:
        handles.append(mk)
        labels.append(f"{mark:g} min (default grid)")
    figstyle.outside_legend(fig, handles, labels)
    return figstyle.save(fig, stem)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("csv", type=Path)
    p.add_argument("--floor", type=Path, help="folder of the floor's per-task summary JSONs (results/<name>/eval/peer-tfidf)")
    p.add_argument("--mark", type=float, help="minutes to mark with a vertical line")
    p.add_argument("--label", action="append", default=[], metavar="RECIPE=TEXT", help="legend text of a recipe")
    p.add_argument("--out", type=Path, required=True, help="output stem (writes .png and .pdf)")
    args = p.parse_args(argv)
    names = dict(item.partition("=")[::2] for item in args.label)
    for path in plot(pd.read_csv(args.csv), args.floor, args.mark, args.out, names):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
