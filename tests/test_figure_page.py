"""Every figure fits its column on a two-column IEEE page at its natural size (no ``width=``).

The figures are drawn from small real inputs (the synthetic ablation results of
``ablation_fixtures``, a data-statistics table, a training history) and included, each at
its natural size, into the two-column page of the LaTeX table test (``test_latex_tables.DOC``:
7.16 in text, 0.17 in column gap): one-column figures in ``figure``, two-column ones in
``figure*``. pdflatex must report no overfull box, and each PDF's width as TeX reads it must
be at most ``\\columnwidth`` or ``\\textwidth``. Needs ``pdflatex`` (skips without it).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd
import pytest
from ablation_fixtures import tiny_config, write_results
from test_latex_tables import compile_page, needs_pdflatex, overfull

from ems import figstyle, grid
from ems.ablation import aggregate, outputs

sys.path.insert(0, str(Path(__file__).parent))


def draw_every_figure(root: Path) -> list[Path]:
    """The PDFs of the ablation figures, the data-statistics figure and a training loss curve."""
    cfg = tiny_config(factors={"objective": ["both", "xtr"], "language_embedding": [True], "temperature": [0.05, 0.1],
                               "data_fraction": [1.0]})
    res = write_results(root, cfg)
    aggregate.aggregate(aggregate.find_eval_files(res / "eval"), res / "ablation", grid.reference_variant(cfg),
                        res / "eval")
    inputs = outputs.Inputs(cfg, res / "ablation", res / "models", res / "shards" / "train", None,
                            root / "benchmarks" / cfg["name"])
    figures = root / "figures"
    written = outputs.make_figures(inputs, figures)

    from ems.data.stats import STEPS, plot_counts

    table = pd.DataFrame({"lang": ["deu", "fra", "kab"], "name": ["deu", "fra", "kab"]})
    for i, step in enumerate(STEPS):
        table[step] = [int(10 ** (4 - 0.4 * i) * (j + 1)) for j in range(3)]
    plot_counts(table, figures / "pairs_per_language.pdf", figures / "pairs_per_language.png")

    from ems.train.figures import plot_history

    history = [{"step": s, "loss/total": 3.0 / (s + 1), "loss/xtr": 2.0 / (s + 1)} for s in range(0, 50, 5)]
    history += [{"step": s, "dev/retrieval_acc": s / 60} for s in (10, 20, 40)]
    plot_history(history, figures / "loss_curve.png")
    figstyle.placeholder(figures / "placeholder", "not available")
    pdfs = sorted({p for p in written if p.suffix == ".pdf"} | {figures / "pairs_per_language.pdf",
                                                               figures / "loss_curve.pdf", figures / "placeholder.pdf"})
    assert all(p.exists() for p in pdfs)
    return pdfs


def page_width_bp(pdf: Path) -> float:
    box = re.search(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]", pdf.read_bytes())
    assert box, pdf
    return float(box.group(3)) - float(box.group(1))


@needs_pdflatex
def test_every_figure_fits_its_column_at_natural_size(tmp_path: Path) -> None:
    pdfs = draw_every_figure(tmp_path)
    body = [r"\typeout{COLUMNWIDTH=\the\columnwidth}", r"\typeout{TEXTWIDTH=\the\textwidth}"]
    two_column = {}
    for pdf in pdfs:
        two_column[pdf.stem] = page_width_bp(pdf) > 300  # wider than one column: a figure* figure
        env = "figure*" if two_column[pdf.stem] else "figure"
        body += [rf"\setbox0\hbox{{\includegraphics{{{pdf.resolve()}}}}}\typeout{{FIGWIDTH {pdf.stem}=\the\wd0}}",
                 rf"\begin{{{env}}}\centering\includegraphics{{{pdf.resolve()}}}"
                 + rf"\caption{{{pdf.stem.replace('_', ' ')}}}\end{{{env}}}"]
    (tmp_path / "body.tex").write_text("\n".join(body) + "\n")
    log = compile_page(tmp_path, [tmp_path / "body.tex"], "page")
    assert not overfull(log), overfull(log)
    column = float(re.search(r"COLUMNWIDTH=([\d.]+)pt", log).group(1))
    text = float(re.search(r"TEXTWIDTH=([\d.]+)pt", log).group(1))
    widths = {m.group(1): float(m.group(2)) for m in re.finditer(r"FIGWIDTH (\S+)=([\d.]+)pt", log)}
    assert set(widths) == {p.stem for p in pdfs}
    too_wide = {stem: (w, text if two_column[stem] else column) for stem, w in widths.items()
                if w > (text if two_column[stem] else column)}
    assert not too_wide, f"figure wider than its column (pt, TeX's reading of the PDF): {too_wide}"
    assert {s for s, two in two_column.items() if not two} >= {"learning_curves", "per_language_heatmap"}


@pytest.mark.parametrize("width_in", [figstyle.ONE_COLUMN_IN, figstyle.TWO_COLUMN_IN])
def test_paper_widths_fit_ieeetran(width_in: float) -> None:
    """IEEEtran: \\columnwidth 252 pt, \\textwidth 516 pt; the 7.16 in / 0.17 in geometry: 252.58 / 517.45 pt."""
    tex_pt = width_in * figstyle.TEX_PT_PER_IN
    assert tex_pt <= (252.0 if width_in < 5 else 516.0) + 1e-9
    assert tex_pt >= (251.0 if width_in < 5 else 515.0)  # and no narrower than needed
