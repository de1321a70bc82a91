"""The one figure style of the project: paper column widths, >= 8 pt text, Type-42 fonts, one palette.

Every plotting module draws inside :func:`style` (or a function decorated with
:func:`styled`), sizes its figure with :func:`figure` at one column (IEEEtran's
``\\columnwidth``, 252 pt = 3.487 in) or two columns (IEEEtran's ``\\textwidth``, 516 pt =
7.140 in) and writes it with :func:`save`: a PDF (TrueType fonts embedded as Type 42, never
Type 3) beside a PNG, each atomically. Saving keeps the figure's size (no tight bounding box),
so a PDF's page is exactly the figure: ``\\includegraphics`` at its natural size fits the
column (no overfull box, tests/test_figure_page.py) and its 8 pt text stays 8 pt on paper.
The "3.5 in" and "7.16 in" of author guides are rounded up: at those widths a figure is
0.4-1.5 pt wider than the column of IEEEtran and of a 7.16 in / 0.17 in geometry.
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
import numpy as np
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ems.io import atomic_path
from ems.names import axis_label

logger = logging.getLogger(__name__)
# matplotlib subsets each Type-42 font through fontTools, which logs every table it prunes at
# INFO: dozens of lines per PDF in a job's log.
logging.getLogger("fontTools").setLevel(logging.WARNING)

#: TeX points per inch (TeX's ``pt``; a PDF's MediaBox counts big points, 72 per inch).
TEX_PT_PER_IN = 72.27
#: Width of one column and of both columns of a two-column paper, inches: IEEEtran's
#: ``\\columnwidth`` (21 pc = 252 pt) and ``\\textwidth`` (43 pc = 516 pt); both also fit a
#: 7.16 in text width with a 0.17 in column gap (3.495 in columns).
ONE_COLUMN_IN = 252 / TEX_PT_PER_IN
TWO_COLUMN_IN = 516 / TEX_PT_PER_IN
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
    """Readable name of a metric key, for axis labels (the words live in :mod:`ems.names`)."""
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


def _line_data(handle: Any) -> tuple[Any, np.ndarray, np.ndarray] | None:
    """(axes, x, y) of a drawn line with data, else None."""
    if not isinstance(handle, Line2D) or handle.axes is None:
        return None
    x = np.asarray(handle.get_xdata(), dtype=float)
    y = np.asarray(handle.get_ydata(), dtype=float)
    return handle.axes, x, y


def drawn_entries(handles: Sequence[Any], labels: Sequence[str]) -> tuple[list[Any], list[str]]:
    """The legend entries of what a reader can see: no hidden artist, no line without a finite point,
    and a line drawn exactly under a later one (same axes, same points) shares that line's entry,
    labelled ``"<covered> = <covering>"`` (the ``total`` loss of a one-term objective is that term)."""
    keep: list[tuple[Any, str]] = []
    for handle, label in zip(handles, labels):
        if hasattr(handle, "get_visible") and not handle.get_visible():
            continue
        line = _line_data(handle)
        if line is not None and not np.isfinite(line[2]).any():
            continue
        keep.append((handle, label))
    covered: dict[int, list[str]] = {}  # index of the covering entry -> labels of the lines under it
    hidden = set()
    for i, (handle, label) in enumerate(keep):
        line = _line_data(handle)
        if line is None:
            continue
        for j in range(len(keep) - 1, i, -1):  # the last line drawn over this one covers it
            other = _line_data(keep[j][0])
            if (other is not None and other[0] is line[0] and other[1].shape == line[1].shape
                    and np.array_equal(other[1], line[1], equal_nan=True)
                    and np.array_equal(other[2], line[2], equal_nan=True)):
                covered.setdefault(j, []).append(label)
                hidden.add(i)
                break
    out_handles, out_labels = [], []
    for i, (handle, label) in enumerate(keep):
        if i in hidden:
            continue
        out_handles.append(handle)
        out_labels.append(" = ".join([*covered.get(i, []), label]))
    return out_handles, out_labels


def outside_legend(fig: plt.Figure, handles: Sequence[Any], labels: Sequence[str], title: str | None = None,
                   ncols: int | None = None) -> Any:
    """One legend above the panels, outside them, so it never covers data; it lists only what is
    drawn (:func:`drawn_entries`)."""
    handles, labels = drawn_entries(handles, labels)
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


def _compact(value: float, _pos: Any = None) -> str:
    """``1``, ``10``, ``100``, ``1k``, ``10k``, ``1M``: a log axis's decades without superscripts."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def plain_log_axis(axis: Any) -> None:
    """Label a log axis's decades as ``1k``, ``10k``, ``100k`` in the tick-label size.

    matplotlib's default ``10^5`` sets the exponent in mathtext superscript, 0.7 of the tick
    size (5.6 pt at 8 pt): below the style's minimum. Minor ticks stay unlabelled."""
    axis.set_major_locator(LogLocator(base=10))
    axis.set_major_formatter(FuncFormatter(_compact))
    axis.set_minor_formatter(NullFormatter())


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
