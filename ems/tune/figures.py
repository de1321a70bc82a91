"""Figures of a study in the project's one style (:mod:`ems.figstyle`), each as PNG with a PDF beside it.

All three are drawn here from Optuna's public study API, one column wide (IEEEtran's column, 252 pt):
``history`` shows pruned trials (at their last reported value) and failed ones (a mark on
the axis) beside the completed ones (Optuna's own history plot shows completed trials
only); ``importances`` are :func:`optuna.importance.get_param_importances` (PED-ANOVA,
Optuna's default evaluator) as bars; ``parallel`` draws every completed trial as one line
through the objective and each parameter axis (log axes where the distribution is log),
coloured by its value, with each axis's range written at its ends. For large studies the
interactive view is optuna-dashboard (docs/tuning.md). A figure that cannot be drawn (too
few trials, one distinct value) becomes a placeholder that says why, so the report builds.
"""

from __future__ import annotations

import logging
import math
import os
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ems import figstyle

logger = logging.getLogger(__name__)

FIGURES = ("history", "importances", "parallel")
ONE_COLUMN_IN = figstyle.ONE_COLUMN_IN


def pdf_beside(path: str | os.PathLike[str]) -> Path:
    return Path(path).with_suffix(".pdf")


def _metric(study: Any) -> str:
    names = getattr(study, "metric_names", None)
    return (names or ["objective value"])[0]


@figstyle.styled
def plot_history(study: Any) -> Any:
    """Each trial's value by number (completed, pruned at its last report, failed on the axis), best so far."""
    done = [(t.number, t.value) for t in study.trials if t.state.name == "COMPLETE"]
    pruned = [(t.number, t.intermediate_values[t.last_step]) for t in study.trials
              if t.state.name == "PRUNED" and t.last_step is not None]
    failed = [t.number for t in study.trials if t.state.name == "FAIL"]
    fig, ax = figstyle.figure("one", 2.5)
    ax = ax[0][0]
    pal = figstyle.colours(["completed", "pruned", "best"])
    if done:
        best, line = float("-inf"), []
        for number, value in done:
            best = max(best, value)
            line.append((number, best))
        ax.step(*zip(*line), where="post", color=pal["best"], lw=1.2, label="best so far")
        ax.scatter(*zip(*done), s=14, color=pal["completed"], label="completed", zorder=3)
    if pruned:
        ax.scatter(*zip(*pruned), s=16, marker="v", facecolors="none", edgecolors=pal["pruned"],
                   label="pruned (last report)", zorder=3)
    if failed:
        ax.scatter(failed, [0.02] * len(failed), marker="x", color="0.4", s=16, label="failed",
                   transform=ax.get_xaxis_transform(), clip_on=False)
    ax.set(xlabel="trial number", ylabel=figstyle.metric_label(_metric(study)))
    ax.set_xlim(-0.5, max((t.number for t in study.trials), default=0) + 0.5)  # failed marks set no limit
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    figstyle.outside_legend(fig, *ax.get_legend_handles_labels())
    return fig


@figstyle.styled
def plot_importances(study: Any) -> Any:
    """Horizontal bars of each searched parameter's importance for the objective (completed trials)."""
    import optuna

    importances = optuna.importance.get_param_importances(study)
    names = list(importances)[::-1]
    fig, ax = figstyle.figure("one", 0.9 + 0.22 * len(names))
    ax = ax[0][0]
    ax.barh(names, [importances[n] for n in names], color=figstyle.colours(["bar"])["bar"], edgecolor="black",
            linewidth=0.4)
    # two lines: one line of this length runs past the one-column width
    ax.set_xlabel(f"importance (PED-ANOVA)\nfor {figstyle.metric_label(_metric(study)).lower()}")
    ax.set_xlim(0, 1)
    ax.grid(axis="y", visible=False)
    return fig


def _axis(values: list[Any], distribution: Any) -> tuple[list[float], list[tuple[float, str]]]:
    """Values scaled to [0, 1] on one parallel axis and the (position, text) labels at its ends."""
    from optuna.distributions import CategoricalDistribution

    if isinstance(distribution, CategoricalDistribution):
        choices = list(distribution.choices)
        step = 1.0 / max(len(choices) - 1, 1)
        labels = [(i * step, str(c)) for i, c in enumerate(choices)] if len(choices) <= 4 else \
            [(0.0, str(choices[0])), (1.0, str(choices[-1]))]
        return [choices.index(v) * step if len(choices) > 1 else 0.5 for v in values], labels
    log = bool(getattr(distribution, "log", False))
    scale = [math.log10(v) if log else float(v) for v in values]
    lo, hi = min(scale), max(scale)
    if hi == lo:
        return [0.5] * len(values), [(0.5, f"{min(values):.3g}")]
    return [(s - lo) / (hi - lo) for s in scale], [(0.0, f"{min(values):.3g}"), (1.0, f"{max(values):.3g}")]


@figstyle.styled
def plot_parallel(study: Any) -> Any:
    """One line per completed trial through the objective and every parameter axis, coloured by value."""
    import matplotlib as mpl
    import matplotlib.pyplot as plt

    trials = [t for t in study.trials if t.state.name == "COMPLETE"]
    params = sorted({p for t in trials for p in t.params})
    trials = [t for t in trials if all(p in t.params for p in params)]
    if not params or not trials:
        raise ValueError("no completed trial with parameters")
    metric = _metric(study)
    values = [t.value for t in trials]
    columns = [("value", _axis(values, None))]
    for p in params:
        dist = next(t.distributions[p] for t in trials)
        columns.append((p, _axis([t.params[p] for t in trials], dist)))
    fig, ax = figstyle.figure("one" if len(columns) <= 5 else "two", 2.6)
    ax = ax[0][0]
    norm = mpl.colors.Normalize(min(values), max(values))
    cmap = plt.get_cmap(figstyle.CMAP)
    order = sorted(range(len(trials)), key=lambda i: values[i])  # best drawn last, on top
    for i in order:
        ax.plot(range(len(columns)), [col[1][0][i] for col in columns], color=cmap(norm(values[i])), lw=1.0,
                alpha=0.85)
    for x, (_, (_, labels)) in enumerate(columns):
        ax.axvline(x, color="0.3", lw=0.8)
        for pos, text in labels:
            ax.text(x, pos, f" {text}", ha="left", va="center", fontsize=figstyle.MIN_FONT_PT,
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 0.5})
    names = [textwrap.fill(figstyle.metric_label(metric), 14), *(p.replace("_", " ") for p in params)]
    ax.set_xticks(range(len(columns)), names, rotation=30 if len(columns) > 3 else 0)
    ax.set_xlim(-0.1, len(columns) - 0.4)
    ax.set_ylim(-0.08, 1.08)
    ax.set_yticks([])
    ax.grid(False)
    fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=figstyle.metric_label(metric),
                 pad=0.02)
    return fig


#: name -> (title, draw(study) -> figure, completed trials needed)
PLOTS: dict[str, tuple[str, Callable[[Any], Any], int]] = {
    "history": ("Optimisation history", plot_history, 1),
    "importances": ("Parameter importances", plot_importances, 2),
    "parallel": ("Parallel coordinates", plot_parallel, 1),
}


@figstyle.styled
def write_figures(study: Any, paths: Mapping[str, str | os.PathLike[str]]) -> dict[str, bool]:
    """Draw each requested figure to its PNG path (and a PDF beside it); ``{name: drawn}``."""
    n_done = sum(1 for t in study.trials if t.state.name == "COMPLETE")
    drawn: dict[str, bool] = {}
    for name, path in paths.items():
        title, make, needed = PLOTS[name]
        stem = Path(path).with_suffix("")
        reason = f"needs >= {needed} completed trial(s), the study has {n_done}" if n_done < needed else None
        if reason is None:
            try:
                figstyle.save(make(study), stem)
            except Exception as exc:  # noqa: BLE001 - optuna raises several kinds; a missing plot is not fatal
                reason = f"{type(exc).__name__}: {exc}"
        if reason is not None:
            logger.info("figure %s: %s; writing a placeholder", name, reason)
            figstyle.placeholder(stem, f"{title}\nnot available: {reason}")
        drawn[name] = reason is None
    return drawn
