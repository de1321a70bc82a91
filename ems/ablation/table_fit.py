"""Width of a LaTeX table before it is compiled, and the layout that fits a two-column page.

A cell is a list of :class:`Run` (text in one size and weight). Its width is summed from the
Adobe font metrics of Times (``ptmr8a.afm``, ``ptmb8a.afm``: the fonts of ``mathptmx``, which
the IEEE and ACL templates use), with the fonts' kerning pairs and fi/fl ligatures; the math
symbols (``$\\pm$``, ``$-$``, ``$\\tau$``, ``$\\to$``) have the widths pdflatex gives them with
``mathptmx``. Sizes are those of a 10 pt document: ``\\small`` 9 pt, ``\\scriptsize`` 7 pt.
A tabular is as wide as the sum over its columns of the widest cell plus ``2\\tabcolsep``;
it overflows a line by the difference to the line's width, which is what pdflatex prints as
``Overfull \\hbox (X pt too wide)`` (``tests/test_latex_tables.py`` compares the two).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

#: Font sizes (pt) of the table body and of its small type, in a 10 pt document.
BODY_PT = 9.0
SMALL_PT = 7.0
#: ``\tabcolsep`` (pt) of each layout: 4 pt in one column (set by the table), LaTeX's 6 pt in ``table*``.
TABCOLSEP = {"table": 4.0, "table*": 6.0}
#: Widths in em of what is not a Times glyph: math symbols (measured with pdflatex and mathptmx) and spaces.
SPECIAL_EM = {"±": 0.77699, "−": 0.77699, "τ": 0.52198, "→": 1.0, "\u2009": 1 / 6, "_": 0.36}
#: Extra space (em) after a sentence end (``.``, ``?``, ``!``, ``:`` after a lower-case letter), as TeX's space factor adds it.
EXTRA_SPACE_EM = 0.06
#: Unicode characters that are named glyphs of the Times AFM files.
GLYPH_NAMES = {"–": "endash", "'": "quoteright", "`": "quoteleft"}


@dataclass(frozen=True)
class Run:
    """Text in one size (``small``: ``\\scriptsize``) and weight."""

    text: str
    small: bool = False
    bold: bool = False


@dataclass(frozen=True)
class _Font:
    widths: dict[str, float]
    kerns: dict[tuple[str, str], float]
    ligatures: dict[tuple[str, str], str]


def _afm_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "afm"


@functools.lru_cache(maxsize=2)
def _font(bold: bool) -> _Font:
    """Glyph widths, kerning pairs and ligatures of Times Roman or Bold (units: 1/1000 em)."""
    path = _afm_dir() / ("ptmb8a.afm" if bold else "ptmr8a.afm")
    widths: dict[str, float] = {}
    kerns: dict[tuple[str, str], float] = {}
    ligatures: dict[tuple[str, str], str] = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.startswith("C "):
            fields = dict(f.strip().split(" ", 1) for f in line.split(";") if f.strip() and " " in f.strip())
            name = fields["N"].strip()
            widths[name] = float(fields["WX"])
            for part in line.split(";"):
                bits = part.split()
                if len(bits) == 3 and bits[0] == "L" and bits[2] in ("fi", "fl"):
                    ligatures[(name, bits[1])] = bits[2]
        elif line.startswith("KPX "):
            _, a, b, value = line.split()
            kerns[(a, b)] = float(value)
    return _Font(widths, kerns, ligatures)


@functools.lru_cache(maxsize=1)
def _ascii_names() -> dict[str, str]:
    """Character -> glyph name of the printable ASCII range (AFM StandardEncoding codes)."""
    out = {}
    for line in (_afm_dir() / "ptmr8a.afm").read_text(encoding="latin-1").splitlines():
        if line.startswith("C "):
            code = int(line.split()[1])
            name = line.split(" N ", 1)[1].split(";", 1)[0].strip()
            if 32 <= code < 127:
                out[chr(code)] = name
    out.update(GLYPH_NAMES)
    return out


def text_width(text: str, size_pt: float, bold: bool = False) -> float:
    """Width (pt) of ``text`` typeset in Times at ``size_pt``, kerned, with fi/fl ligatures."""
    font, names = _font(bold), _ascii_names()
    total = 0.0
    previous: str | None = None
    for i, ch in enumerate(text):
        if ch == " " and i >= 1 and text[i - 1] in ".?!:" and not (i >= 2 and text[i - 2].isupper()):
            total += EXTRA_SPACE_EM * 1000
        if ch in SPECIAL_EM:
            total += SPECIAL_EM[ch] * 1000
            previous = None
            continue
        name = names.get(ch)
        if name is None or name not in font.widths:
            total += 500.0  # an unknown glyph: half an em
            previous = None
            continue
        if previous is not None and (previous, name) in font.ligatures:
            lig = font.ligatures[(previous, name)]
            total += font.widths[lig] - font.widths[previous]
            previous = lig
            continue
        if previous is not None:
            total += font.kerns.get((previous, name), 0.0)
        total += font.widths[name]
        previous = name
    return total * size_pt / 1000.0


def cell_width(runs: Sequence[Run], bold: bool = False) -> float:
    """Width (pt) of one table cell: body text at 9 pt, small runs at 7 pt."""
    return sum(text_width(r.text, SMALL_PT if r.small else BODY_PT, bold or r.bold) for r in runs)


def tabular_width(columns: Sequence[Sequence[Sequence[Run]]], bold: Sequence[Sequence[bool]] | None = None,
                  tabcolsep: float = TABCOLSEP["table"]) -> float:
    """Natural width (pt) of a tabular given each column's cells (header included)."""
    total = 0.0
    for j, cells in enumerate(columns):
        widest = max((cell_width(c, bool(bold[j][i]) if bold else False) for i, c in enumerate(cells)), default=0.0)
        total += widest + 2 * tabcolsep
    return total


@dataclass(frozen=True)
class Page:
    """The page a table is set for (``ablation.tables``: ``column_width_pt``, ``text_width_pt``, ``min_font_pt``)."""

    column_width_pt: float
    text_width_pt: float
    min_font_pt: float


@dataclass(frozen=True)
class Fit:
    """How a table is set: environment, scaling, natural width and what does not fit."""

    requested: str
    env: str  # table or table*
    scaled: bool  # inside \resizebox{<line width>}{!}{...}
    width_pt: float  # natural width of the tabular (9 pt body)
    line_pt: float  # \columnwidth or \textwidth
    overflow_pt: float  # width_pt - line_pt where not scaled and positive, else 0
    font_pt: float  # body font size after scaling

    @property
    def problem(self) -> str:
        """'' when the table fits at a readable size, else what is wrong, in words."""
        where = "the column" if self.env == "table" else "the page width"
        if self.overflow_pt > 0:
            return f"{self.width_pt:.1f} pt wide: overflows {where} ({self.line_pt:.1f} pt) by {self.overflow_pt:.1f} pt"
        return ""

    def comment(self) -> str:
        """One LaTeX comment line with the numbers (read back by the tests)."""
        text = (f"% ems-fit: layout={self.requested} env={self.env} width={self.width_pt:.1f}pt "
                f"line={self.line_pt:.1f}pt overflow={self.overflow_pt:.1f}pt")
        if self.scaled:
            text += f" scale={self.line_pt / self.width_pt:.3f} font={self.font_pt:.1f}pt"
        return text


def choose(requested: str, width: dict[str, float], page: Page) -> Fit:
    """The layout of a table whose natural width in each environment is ``width[env]``.

    ``table``/``table*``: as asked (overflow reported); ``resizebox``: ``table`` scaled down to
    the column where it is wider (font size reported); ``auto``: ``table`` if it fits, else
    ``table*`` if it fits, else ``table*`` scaled down to the page width if the text stays at
    least ``page.min_font_pt``, else ``table*`` with the overflow reported.
    """
    line = {"table": page.column_width_pt, "table*": page.text_width_pt}

    def plain(env: str) -> Fit:
        return Fit(requested, env, False, width[env], line[env], max(0.0, width[env] - line[env]), BODY_PT)

    def scaled(env: str) -> Fit:
        if width[env] <= line[env]:
            return plain(env)
        return Fit(requested, env, True, width[env], line[env], 0.0, BODY_PT * line[env] / width[env])

    if requested in ("table", "table*"):
        return plain(requested)
    if requested == "resizebox":
        return scaled("table")
    for env in ("table", "table*"):
        if width[env] <= line[env]:
            return plain(env)
    shrunk = scaled("table*")
    return shrunk if shrunk.font_pt >= page.min_font_pt else plain("table*")


def problems(fit: Fit, page: Page) -> str:
    """What a reader of the table should be told: an overflow, or text scaled below the readable size."""
    if fit.problem:
        return fit.problem
    if fit.scaled and fit.font_pt < page.min_font_pt:
        return (f"{fit.width_pt:.1f} pt wide: scaled to the column, its text is {fit.font_pt:.1f} pt "
                f"(< {page.min_font_pt:g} pt)")
    return ""
