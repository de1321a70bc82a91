"""Figures of a study, in the project's one figure style, each as PNG with a PDF beside it.

``history`` is drawn here so that pruned trials (at their last reported value) and failed
ones (a mark on the axis) appear beside the completed ones; Optuna's own history plot shows
completed trials only. ``importances`` and ``parallel`` use Optuna's matplotlib backend. A
figure that cannot be drawn (too few trials, one distinct value) becomes a placeholder that
says why, so the Snakemake report still builds.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ems.io import atomic_path

logger = logging.getLogger(__name__)

FIGURES = ("history", "importances", "parallel")
ONE_COLUMN_IN = 3.5  # width of one column of a two-column paper


def pdf_beside(path: str | os.PathLike[str]) -> Path:
    return Path(path).with_suffix(".pdf")


def _save(fig: Any, path: Path) -> None:
    """``path`` (PNG) and the PDF beside it, atomically; the figure is closed."""
    import matplotlib.pyplot as plt

    for target, fmt in ((path, "png"), (pdf_beside(path), "pdf")):
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt, dpi=200, bbox_inches="tight")
    plt.close(fig)


def _placeholder(path: Path, title: str, reason: str) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(ONE_COLUMN_IN, 1.6))
    ax.axis("off")
    ax.text(0.5, 0.5, f"{title}\nnot available: {reason}", ha="center", va="center", wrap=True)
    _save(fig, path)


def plot_history(study: Any) -> Any:
    """Each trial's value by number (completed, pruned at its last report, failed on the axis), best so far."""
    import matplotlib.pyplot as plt

    done = [(t.number, t.value) for t in study.trials if t.state.name == "COMPLETE"]
    pruned = [(t.number, t.intermediate_values[t.last_step]) for t in study.trials
              if t.state.name == "PRUNED" and t.last_step is not None]
    failed = [t.number for t in study.trials if t.state.name == "FAIL"]
    fig, ax = plt.subplots(figsize=(ONE_COLUMN_IN, 2.4))
    if done:
        best, line = float("-inf"), []
        for number, value in done:
            best = max(best, value)
            line.append((number, best))
        ax.step(*zip(*line), where="post", color="C3", lw=1.2, label="best so far")
        ax.scatter(*zip(*done), s=18, color="C0", label="completed", zorder=3)
    if pruned:
        ax.scatter(*zip(*pruned), s=18, marker="v", facecolors="none", edgecolors="C1",
                   label="pruned (last report)", zorder=3)
    if failed:
        ax.scatter(failed, [0.02] * len(failed), marker="x", color="0.4", s=18, label="failed",
                   transform=ax.get_xaxis_transform(), clip_on=False)
    names = getattr(study, "metric_names", None)
    ax.set(xlabel="trial", ylabel=(names or ["objective value"])[0])
    ax.set_xlim(-0.5, max((t.number for t in study.trials), default=0) + 0.5)  # failed marks set no limit
    ax.legend(fontsize=8, frameon=False, loc="best")
    return fig


def _optuna_plot(name: str) -> Callable[[Any], Any]:
    from optuna.visualization import matplotlib as ovm

    plot = {"importances": ovm.plot_param_importances, "parallel": ovm.plot_parallel_coordinate}[name]

    def draw(study: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # optuna's matplotlib backend is experimental
            ax = plot(study)
        return (ax.flat[0] if hasattr(ax, "flat") else ax).figure

    return draw


#: name -> (title, draw(study) -> figure, completed trials needed)
PLOTS: dict[str, tuple[str, Callable[[str], Callable[[Any], Any]], int]] = {
    "history": ("Optimisation history", lambda _: plot_history, 1),
    "importances": ("Parameter importances", _optuna_plot, 2),
    "parallel": ("Parallel coordinates", _optuna_plot, 1),
}


def write_figures(study: Any, paths: Mapping[str, str | os.PathLike[str]]) -> dict[str, bool]:
    """Draw each requested figure to its PNG path (and a PDF beside it); ``{name: drawn}``."""
    import matplotlib

    matplotlib.use("Agg")
    from ems.ablation.figures import set_style

    set_style()
    n_done = sum(1 for t in study.trials if t.state.name == "COMPLETE")
    drawn: dict[str, bool] = {}
    for name, path in paths.items():
        title, make, needed = PLOTS[name]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        reason = f"needs >= {needed} completed trial(s), the study has {n_done}" if n_done < needed else None
        if reason is None:
            try:
                _save(make(name)(study), path)
            except Exception as exc:  # noqa: BLE001 - optuna raises several kinds; a missing plot is not fatal
                reason = f"{type(exc).__name__}: {exc}"
        if reason is not None:
            logger.info("figure %s: %s; writing a placeholder", name, reason)
            _placeholder(path, title, reason)
        drawn[name] = reason is None
    return drawn
