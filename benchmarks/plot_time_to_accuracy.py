"""Plot a time_to_accuracy JSON: Tatoeba and dev retrieval accuracy against training seconds and pairs seen.

    .venv/bin/python benchmarks/plot_time_to_accuracy.py docs/measurements/time_to_accuracy_<date>.json \\
        --out docs/figures/time_to_accuracy_<date>

Writes ``<out>.png`` and ``<out>.pdf`` (project figure style): two panels side by side,
one line per recipe, Tatoeba (snapshots, filled markers) solid and dev accuracy dashed; with
``--markdown`` it also prints the curves and the crossings as Markdown tables (for docs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ems import figstyle


@figstyle.styled
def plot(report: dict, stem: Path, target: float | None) -> list[Path]:
    """Two panels (seconds, pairs); per recipe a solid Tatoeba line and a dashed dev line in one colour."""
    recipes = report["recipes"]
    colours = figstyle.colours(list(recipes))
    fig, axes = figstyle.figure("two", 2.6, ncols=2, sharey=True)
    handles, labels = [], []
    for name, rec in recipes.items():
        points = rec["points"]
        scored = [p for p in points if p.get("tatoeba_acc") is not None]
        arm = rec.get("arm") or "both"
        who = name if arm in name else f"{name} ({arm})"
        for ax, key, scale in ((axes[0][0], "seconds", 60.0), (axes[0][1], "pairs", 1e3)):
            (dev,) = ax.plot([p[key] / scale for p in points], [p["dev_acc"] for p in points],
                             ls="--", lw=1.0, color=colours[name])
            (tat,) = ax.plot([p[key] / scale for p in scored], [p["tatoeba_acc"] for p in scored],
                             ls="-", marker="o", ms=3.5, lw=1.5, color=colours[name])
        handles += [tat, dev]
        labels += [f"{who}: Tatoeba", f"{who}: dev (50 candidates)"]
    for ax, xlabel in ((axes[0][0], "training minutes (step time)"), (axes[0][1], "pairs seen (thousands)")):
        ax.set_xlabel(xlabel)
        ax.set_xlim(left=0)
        if target is not None:
            line = ax.axhline(target, color="0.4", lw=0.8, ls=":")
    if target is not None:  # in the legend, not on the plot: no label over a curve
        handles.append(line)
        labels.append(f"Tatoeba target {target:g}")
    axes[0][0].set_ylabel("accuracy")
    axes[0][0].set_ylim(0, 1)
    figstyle.outside_legend(fig, handles, labels, ncols=2)
    return figstyle.save(fig, stem)


def markdown(report: dict) -> str:
    """The scored points of every recipe, then the seconds/pairs at which each level is first crossed."""
    lines = ["| recipe | step | step minutes | pairs seen | dev acc. | Tatoeba acc. |", "|---|---|---|---|---|---|"]
    for name, rec in report["recipes"].items():
        for p in rec["points"]:
            if p.get("tatoeba_acc") is not None:
                lines.append(f"| {name} | {p['step']:,} | {p['seconds'] / 60:.1f} | {p['pairs']:,} | {p['dev_acc']:.3f} "
                             f"| {p['tatoeba_acc']:.3f} |")
    for metric, key in (("dev acc.", "dev_crossings"), ("Tatoeba", "tatoeba_crossings")):
        levels = list(next(iter(report["recipes"].values()))[key])
        lines += ["", f"| first {metric} ≥ (step minutes, pairs) | " + " | ".join(levels) + " |",
                  "|---" * (len(levels) + 1) + "|"]
        for name, rec in report["recipes"].items():
            cells = [f"{hit['seconds'] / 60:.1f} min, {hit['pairs'] / 1e3:.0f}k" if hit else "not reached"
                     for hit in (rec[key].get(level) for level in levels)]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report", type=Path, help="JSON written by benchmarks/time_to_accuracy.py")
    p.add_argument("--out", type=Path, required=True, help="output stem (.png and .pdf are added)")
    p.add_argument("--markdown", action="store_true", help="also print the curves and crossings as Markdown")
    p.add_argument("--target", type=float, default=0.45, help="horizontal line: the Tatoeba target (none: 0)")
    args = p.parse_args(argv)
    try:
        report = json.loads(args.report.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: {args.report}: {exc}", file=sys.stderr)
        return 2
    if not report.get("recipes"):
        print(f"error: {args.report}: no recipe has finished yet", file=sys.stderr)
        return 2
    for path in plot(report, args.out, args.target or None):
        print(path)
    if args.markdown:
        print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
