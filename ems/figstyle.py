"""The one figure style of the project: paper column widths, >= 8 pt text, Type-42 fonts, one palette.

Every plotting module draws inside :func:`style` (or a function decorated with
:func:`styled`), sizes its figure with :func:`figure` at one column (3.5 in) or two columns
(7.16 in, IEEE/ACL two-column templates) and writes it with :func:`save`: a PDF (TrueType
fonts embedded as Type 42, never Type 3) beside a PNG, each atomically. Saving keeps the
figure's size (no tight bounding box), so a PDF drops into ``\\includegraphics[width=\\columnwidth]``
at scale 1 and its 8 pt text stays 8 pt on paper.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import seaborn as sns

from ems.ablation.names import axis_label
from ems.io import atomic_path

logger = logging.getLogger(__name__)
# matplotlib subsets each Type-42 font through fontTools, which logs every table it prunes at
# INFO: dozens of lines per PDF in a job's log.
logging.getLogger("fontTools").setLevel(logging.WARNING)

#: Text width of one column and of both columns of a two-column paper (IEEEtran, ACL), inches.
ONE_COLUMN_IN = 3.5
TWO_COLUMN_IN = 7.16
WIDTHS: dict[str, float] = {"one": ONE_COLUMN_IN, "two": TWO_COLUMN_IN}
#: Smallest text size of any figure (ticks, labels, legends, annotations), points.
MIN_FONT_PT = 8.0
TITLE_PT = 9.0
#: The categorical palette (colour-blind safe) and the sequential colour map of every figure.
PALETTE = "colorblind"
CMAP = "viridis"
FORMATS = ("pdf", "png")
PNG_DPI = 200

RC: dict[str, Any] = {
    "font.size": MIN_FONT_PT,
    "axes.labelsize": MIN_FONT_PT,
    "axes.titlesize": TITLE_PT,
    "xtick.labelsize": MIN_FONT_PT,
    "ytick.labelsize": MIN_FONT_PT,
    "legend.fontsize": MIN_FONT_PT,
    "legend.title_fontsize": MIN_FONT_PT,
    "figure.titlesize": TITLE_PT,
    "figure.labelsize": MIN_FONT_PT,  # fig.supxlabel / supylabel
    "axes.linewidth": 0.6,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "legend.frameon": False,
    "legend.handlelength": 1.6,
    "pdf.fonttype": 42,  # TrueType (Type 42) in PDF and PS: no Type-3 bitmaps, text stays searchable
    "ps.fonttype": 42,
    "figure.dpi": 100,
    "savefig.dpi": PNG_DPI,
    "savefig.bbox": "standard",  # keep the figure's width: the figure *is* the column width
}

F = TypeVar("F", bound=Callable[..., Any])


def apply() -> None:
    """Set the project style globally (seaborn whitegrid, paper context, then :data:`RC`)."""
    sns.set_theme(context="paper", style="whitegrid", palette=PALETTE, rc=RC)


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The project style inside the block; the caller's matplotlib settings come back after it."""
    with matplotlib.rc_context():
        apply()
        yield


def styled(fn: F) -> F:
    """Decorator: run ``fn`` (which draws and saves) inside :func:`style`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with style():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def figure(width: Literal["one", "two"], height: float, nrows: int = 1, ncols: int = 1,
           **kwargs: Any) -> tuple[plt.Figure, Any]:
    """``plt.subplots`` at one- or two-column width, constrained layout (labels and outside legends fit)."""
    kwargs.setdefault("squeeze", False)
    return plt.subplots(nrows, ncols, figsize=(WIDTHS[width], height), layout="constrained", **kwargs)


def colours(keys: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """A fixed colour per key, by position, from :data:`PALETTE` (same key order, same colours everywhere)."""
    pal = sns.color_palette(PALETTE, n_colors=max(len(keys), 1))
    return {k: pal[i % len(pal)] for i, k in enumerate(keys)}


def metric_label(metric: str) -> str:
    """Readable name of a metric key, for axis labels (the words live in :mod:`ems.ablation.names`)."""
    return axis_label(metric)


#: Names of quantities that cannot be negative (times, steps, counts, memory, losses).
NON_NEGATIVE = ("seconds", "wall_s", "step", "n_languages", "pairs", "rss", "_mb", "loss", "count")


def metric_bounds(metric: str) -> tuple[float, float]:
    """The range a metric can take: [0, 1] for accuracies, F1, precision and recall; [0, inf) for times,
    steps, counts, memory and losses; else unbounded (differences, for one)."""
    name = metric.lower()
    if any(key in name for key in ("acc", "f1", "precision", "recall")):
        return 0.0, 1.0
    if any(key in name for key in NON_NEGATIVE):
        return 0.0, float("inf")
    return float("-inf"), float("inf")


def outside_legend(fig: plt.Figure, handles: Sequence[Any], labels: Sequence[str], title: str | None = None,
                   ncols: int | None = None) -> Any:
    """One legend above the panels, outside them, so it never covers data."""
    if not handles:
        return None
    if ncols is not None:
        return fig.legend(handles, labels, loc="outside upper center", ncols=ncols, title=title)
    renderer = fig.canvas.get_renderer()
    for n in range(len(labels), 0, -1):  # as many columns as fit the figure's width
        legend = fig.legend(handles, labels, loc="outside upper center", ncols=n, title=title)
        if n == 1 or legend.get_window_extent(renderer).width <= 0.98 * fig.bbox.width:
            return legend
        legend.remove()
    return None


def save(fig: plt.Figure, stem: str | os.PathLike[str]) -> list[Path]:
    """Write ``<stem>.pdf`` and ``<stem>.png`` (each atomically) at the figure's size; close the figure."""
    stem = Path(stem)
    return save_as(fig, {fmt: stem.with_name(f"{stem.name}.{fmt}") for fmt in FORMATS})


def save_as(fig: plt.Figure, paths: Mapping[str, str | os.PathLike[str]]) -> list[Path]:
    """Write ``fig`` once per ``{format: path}`` (each atomically, Type-42 fonts); close the figure."""
    out = []
    try:
        with matplotlib.rc_context(RC):  # Type-42 fonts also when a caller saves outside style()
            for fmt, path in paths.items():
                target = Path(path)
                target.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(target) as tmp:
                    fig.savefig(tmp, format=fmt)
                out.append(target)
    finally:
        plt.close(fig)
    return out


@styled
def placeholder(stem: str | os.PathLike[str], message: str) -> list[Path]:
    """A one-column figure that says why the real one could not be drawn (the report still builds)."""
    fig, ax = figure("one", 1.2)
    ax = ax[0][0]
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    logger.warning("%s: %s", Path(stem).name, message)
    return save(fig, stem)
