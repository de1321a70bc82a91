"""Every figure of the project follows ems.figstyle: paper widths, >= 8 pt text, Type-42 fonts, PDF beside PNG;
intervals inside the metric's range; learning curves as mean and band over seeds; legends outside the data.

Figures are drawn from small real inputs (synthetic ablation results, a toy Optuna study, a
statistics table, a training history) and inspected as saved: each call of
``figstyle.save_as`` is recorded (the figure object stays readable after it is closed).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.lines
import matplotlib.text
import numpy as np
import pandas as pd
import pytest
from ablation_fixtures import tiny_config, write_results
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure

from ems import figstyle, grid
from ems.ablation import aggregate, outputs
from ems.ablation import figures as figs

sys.path.insert(0, str(Path(__file__).parent))

WIDTHS = (figstyle.ONE_COLUMN_IN, figstyle.TWO_COLUMN_IN)


@pytest.fixture
def saved(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Figure, list[Path]]]:
    """(figure, written paths) of every figure saved while the test runs."""
    calls: list[tuple[Figure, list[Path]]] = []
    original = figstyle.save_as

    def recording(fig: Figure, paths: dict) -> list[Path]:
        out = original(fig, paths)
        calls.append((fig, out))
        return out

    monkeypatch.setattr(figstyle, "save_as", recording)
    return calls


def pdf_font_types(pdf: Path) -> list[str]:
    """Font types embedded in ``pdf``: poppler's ``pdffonts`` when on PATH, else the /Subtype of each /Font."""
    data = pdf.read_bytes()
    subtypes = [m.decode() for m in re.findall(rb"/Type\s*/Font\s*/Subtype\s*/(\w+)", data)]
    subtypes += [m.decode() for m in re.findall(rb"/Subtype\s*/(\w+)\s*/Type\s*/Font", data)]
    if shutil.which("pdffonts"):
        lines = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()
        subtypes += [line[37:55].strip() for line in lines[2:]]  # the "type" column
    return subtypes


def page_width_in(pdf: Path) -> float:
    box = re.search(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]", pdf.read_bytes())
    assert box, f"{pdf}: no MediaBox"
    return (float(box.group(3)) - float(box.group(1))) / 72


def texts(fig: Figure) -> list[matplotlib.text.Text]:
    return [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]


#: mathtext sets a sub- or superscript at 0.7 of its text's size (matplotlib's SHRINK_FACTOR).
SCRIPT_SHRINK = 0.7
#: IEEEtran's \columnwidth and \textwidth (TeX points): a figure at its natural size must fit them.
IEEE_COLUMN_PT, IEEE_TEXT_PT = 252.0, 516.0


def smallest_size(text: matplotlib.text.Text) -> float:
    """The smallest glyph size of ``text`` in points: its font size, times 0.7 per script level of a
    mathtext ``$...$`` part (the ``5`` of ``$10^{5}$``, a log axis's exponent, is 0.7 of the tick label)."""
    size = float(text.get_fontsize())
    math = "".join(re.findall(r"(?<!\\)\$(.*?)(?<!\\)\$", text.get_text()))
    depth, level = 0, 0
    for i, ch in enumerate(math):  # script nesting: ^x or _x, ^{...} nests one level deeper
        if ch in "^_":
            depth = max(depth, level + 1)
            if math[i + 1:i + 2] == "{":
                level += 1
        elif ch == "}" and level:
            level -= 1
    return size * SCRIPT_SHRINK ** depth


def assert_paper_figure(fig: Figure, paths: list[Path]) -> None:
    """Width one or two columns (no wider than IEEEtran's), every glyph >= 8 pt (tick labels, offset
    texts, exponents), PDF beside PNG, Type-42 fonts, PDF as wide as the figure."""
    width = fig.get_size_inches()[0]
    assert any(width == pytest.approx(w) for w in WIDTHS), f"figure width {width} in"
    assert width * figstyle.TEX_PT_PER_IN <= (IEEE_COLUMN_PT if width < 5 else IEEE_TEXT_PT) + 1e-6, width
    small = [(t.get_text(), round(smallest_size(t), 2)) for t in texts(fig)
             if smallest_size(t) < figstyle.MIN_FONT_PT - 1e-9]
    assert not small, f"text below {figstyle.MIN_FONT_PT} pt: {small}"
    by_suffix = {p.suffix: p for p in paths}
    assert set(by_suffix) == {".pdf", ".png"}, f"written: {paths}"
    pdf, png = by_suffix[".pdf"], by_suffix[".png"]
    assert pdf == png.with_suffix(".pdf") and pdf.exists() and png.exists(), "the PDF lies beside the PNG"
    assert pdf.read_bytes()[:5] == b"%PDF-" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    types = pdf_font_types(pdf)
    assert types, f"{pdf}: no font found"
    assert not [t for t in types if t.replace(" ", "") == "Type3"], f"{pdf}: Type-3 fonts {types}"
    assert page_width_in(pdf) == pytest.approx(width, abs=0.01)  # no tight bbox: the page is the column
    assert_text_inside(fig)


def assert_text_inside(fig: Figure) -> None:
    """No text runs past the figure's edges (the page is the column: what is outside is cut off).

    Tick labels of ticks outside an axis's view limits are not drawn and do not count."""
    renderer = renderer_of(fig)
    page = fig.bbox
    hidden = set()  # labels of ticks outside the view limits: matplotlib does not draw them
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for ticks in (axis.get_major_ticks(), axis.get_minor_ticks()):
                for tick in ticks:
                    if not lo - 1e-9 * (hi - lo) <= tick.get_loc() <= hi + 1e-9 * (hi - lo):
                        hidden.update({id(tick.label1), id(tick.label2)})
    outside = []
    for t in texts(fig):
        if id(t) in hidden:
            continue
        box = t.get_window_extent(renderer)
        if box.x0 < page.x0 - 1 or box.x1 > page.x1 + 1 or box.y0 < page.y0 - 1 or box.y1 > page.y1 + 1:
            outside.append((t.get_text(), round(box.x0), round(box.x1), round(page.x1)))
    assert not outside, f"text cut off at the figure's edge: {outside}"


def renderer_of(fig: Figure) -> RendererAgg:
    """An Agg renderer of a (closed) figure, drawn once so that the layout is the saved one."""
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def assert_legend_outside_axes(fig: Figure) -> None:
    """Every legend of ``fig`` lies outside every axes that holds data (it cannot cover bars or lines)."""
    renderer = renderer_of(fig)
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert legends, "no legend"
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            if ax.has_data():
                assert not box.overlaps(ax.get_window_extent(renderer)), "legend over the data"


def _finite_line(line: matplotlib.lines.Line2D) -> bool:
    return line.get_visible() and bool(np.isfinite(np.asarray(line.get_ydata(), dtype=float)).any())


def _covered(line: matplotlib.lines.Line2D) -> bool:
    """Whether a later line of the same axes is drawn over exactly the same points."""
    lines = line.axes.get_lines()
    later = lines[lines.index(line) + 1:]
    return any(np.array_equal(np.asarray(o.get_xdata(), float), np.asarray(line.get_xdata(), float), equal_nan=True)
               and np.array_equal(np.asarray(o.get_ydata(), float), np.asarray(line.get_ydata(), float), equal_nan=True)
               for o in later if _finite_line(o))


def legend_entries(fig: Figure) -> list[str]:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def assert_legend_lists_what_is_drawn(fig: Figure) -> None:
    """Every legend entry names something drawn and visible (a line not hidden under an identical
    later line, a labelled collection or container), and every labelled line with data is listed.

    Entries may join lines drawn on top of each other (``"train total = train xtr"``); legend-only
    proxies (``proxies``: patches and markers that stand for seaborn's bars and dots) are allowed
    when the figure draws no labelled artist at all."""
    entries = legend_entries(fig)
    assert entries, "no legend"
    lines = [ln for ax in fig.axes for ln in ax.get_lines() if not ln.get_label().startswith("_") and _finite_line(ln)]
    others = {str(a.get_label()) for ax in fig.axes for a in [*ax.collections, *ax.containers]
              if not str(a.get_label()).startswith("_")}
    listed = {part for entry in entries for part in entry.split(" = ")}
    unlisted = sorted({ln.get_label() for ln in lines} - listed)
    assert not unlisted, f"drawn but not in the legend: {unlisted}"
    if not lines and not others:
        return  # a legend of proxies (cost_per_job)
    for entry in entries:
        shown = entry.split(" = ")[-1]  # the line drawn last, on top
        matching = [ln for ln in lines if ln.get_label() == shown]
        assert matching or shown in others, f"legend entry {entry!r} draws nothing"
        assert not matching or any(not _covered(ln) for ln in matching), f"{entry!r} lies under another line"
    assert len(entries) == len(set(entries)), f"repeated legend entries: {entries}"


# ----------------------------------------------------------------------------- ablation figures
@pytest.fixture(scope="module")
def ablation_inputs(tmp_path_factory: pytest.TempPathFactory) -> outputs.Inputs:
    cfg = tiny_config(factors={"objective": ["both", "xtr"], "language_embedding": [True], "temperature": [0.05, 0.1],
                               "data_fraction": [1.0]})
    root = tmp_path_factory.mktemp("figs")
    res = write_results(root, cfg)
    aggregate.aggregate(aggregate.find_eval_files(res / "eval"), res / "ablation", grid.reference_variant(cfg),
                        res / "eval")
    return outputs.Inputs(cfg, res / "ablation", res / "models", res / "shards" / "train", None,
                          root / "benchmarks" / cfg["name"])


def test_every_ablation_figure_is_a_paper_figure(ablation_inputs: outputs.Inputs, saved: list, tmp_path: Path) -> None:
    written = outputs.make_figures(ablation_inputs, tmp_path)
    stems = outputs.figure_stems(ablation_inputs.config)
    assert sorted(p.name for p in written) == sorted(f"{s}.{e}" for s in stems for e in ("pdf", "png"))
    assert len(saved) == len(stems) and "scaling_temperature" in stems
    for fig, paths in saved:
        assert_paper_figure(fig, paths)
    by_stem = {paths[0].stem: fig for fig, paths in saved}
    assert by_stem["ablation_bars"].get_size_inches()[0] == pytest.approx(figstyle.TWO_COLUMN_IN)  # 3 metrics
    assert by_stem["ablation_bars"].get_size_inches()[1] >= 2.2  # not a 1.6 in strip
    assert by_stem["learning_curves"].get_size_inches()[0] == pytest.approx(figstyle.ONE_COLUMN_IN)
    for stem in ("ablation_bars", "learning_curves", "scaling_temperature", "cost_per_job"):
        assert_legend_outside_axes(by_stem[stem])
        assert_legend_lists_what_is_drawn(by_stem[stem])
    # cells by human names, not by the objective's key ("both", "xtr")
    bars = [t.get_text() for t in by_stem["ablation_bars"].axes[0].get_yticklabels()]
    assert bars == ["XTR + contrastive, τ=0.05", "XTR + contrastive, τ=0.1", "XTR, τ=0.05", "XTR, τ=0.1"]
    heat = [t.get_text() for t in by_stem["per_language_heatmap"].axes[0].get_xticklabels()]
    assert heat == [*bars, "TF-IDF"]
    scaling = legend_entries(by_stem["scaling_temperature"])
    assert scaling == ["XTR + contrastive", "XTR"]
    # bars and dots of the cost figure are named
    assert legend_entries(by_stem["cost_per_job"]) == ["mean over the rule's jobs", "one job"]


def _summary(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["variant", "metric", "mean", "ci95"])
    frame["is_peer"] = frame["variant"].str.startswith("peer-")
    for factor in grid.FACTOR_COLUMNS:
        frame[factor] = [grid.parse_variant(v)[factor] if not p else None
                         for v, p in zip(frame["variant"], frame["is_peer"])]
    return frame


LOW = "objective~both_langemb~True_temp~0.05_frac~1.0"
HIGH = "objective~both_langemb~True_temp~0.1_frac~1.0"


def test_intervals_are_clipped_to_the_metric_range(saved: list, tmp_path: Path) -> None:
    summary = _summary([(LOW, "tatoeba/acc_mean", 0.05, 0.2), (HIGH, "tatoeba/acc_mean", 0.95, 0.2),
                        (LOW, "mining/f1", 0.5, 0.1), (HIGH, "mining/f1", 0.02, 0.5)])
    figs.ablation_bars(summary, {v: grid.short_label(v, ["temperature"]) for v in (LOW, HIGH)}, tmp_path)
    figs.scaling_curves(summary, "temperature", tmp_path)
    for fig, paths in saved:
        assert_paper_figure(fig, paths)
        ends = []
        for ax in fig.axes:
            for coll in ax.collections:
                if isinstance(coll, LineCollection):  # error bars
                    for seg in coll.get_segments():
                        ends += list(seg[:, 0] if paths[0].stem == "ablation_bars" else seg[:, 1])
        assert ends and min(ends) == pytest.approx(0.0) and max(ends) == pytest.approx(1.0)
        assert min(ends) >= 0.0 and max(ends) <= 1.0
    err = figs.clipped_errors([0.05, 0.5, 2.0], [0.2, np.nan, 1.0], (0.0, 1.0))
    assert np.allclose(err, [[0.05, 0.0, 1.0], [0.2, 0.0, 0.0]])  # NaN half-width: no bar
    assert figs.clipped_errors([3.0], [1.0], figstyle.metric_bounds("seconds")).tolist() == [[1.0], [1.0]]


def _histories() -> pd.DataFrame:
    """Two arms × three seeds, dev accuracy at steps 0, 10, 20 (seed 3 of ``xtr`` also at 30)."""
    rows = []
    for objective, base in (("both", 0.5), ("xtr", 0.3)):
        variant = f"objective~{objective}_langemb~True_temp~0.1_frac~1.0"
        for seed in (1, 2, 3):
            steps = (0, 10, 20, 30) if (objective, seed) == ("xtr", 3) else (0, 10, 20)
            for step in steps:
                rows.append({"model_id": f"{variant}/seed{seed}", "variant": variant, "seed": seed, "step": step,
                             "seconds": step * 1.5, "metric": "dev/retrieval_acc",
                             "value": min(1.0, base * step / 20 + 0.02 * seed) if step else 0.01 * seed})
    return pd.DataFrame(rows)


def test_learning_curves_are_mean_and_band_over_seeds(saved: list, tmp_path: Path) -> None:
    hist = _histories()
    labels = {v: grid.short_label(v, ["objective"]) for v in hist["variant"].unique()}
    figs.learning_curves(hist, labels, tmp_path)
    (fig, paths), = saved
    assert_paper_figure(fig, paths)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "Dev retrieval accuracy" and "step" in ax.get_xlabel()
    lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert [line.get_label() for line in lines] == ["XTR + contrastive", "XTR"]  # one line per arm, not per seed
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2
    assert_legend_lists_what_is_drawn(fig)
    assert lines[0].get_color() != lines[1].get_color()
    for line, band in zip(lines, bands):
        assert np.allclose(band.get_facecolor()[0][:3], matplotlib.colors.to_rgb(line.get_color()))
    for objective, line, band in zip(("both", "xtr"), lines, bands):
        runs = hist[hist["variant"].str.contains(f"objective~{objective}_")]
        expect = runs.groupby("step")["value"].agg(["mean", "std"])
        assert list(line.get_xdata()) == list(expect.index)
        assert np.allclose(line.get_ydata(), expect["mean"])
        assert band.get_paths(), f"{objective}: empty band"
        ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
        assert ys.min() >= 0.0 and ys.max() <= 1.0
        at20 = expect.loc[20]
        assert np.isclose(ys, min(1.0, at20["mean"] + at20["std"])).any()  # mean ± one s.d. over seeds
    xtr_band = np.concatenate([p.vertices[:, 0] for p in bands[1].get_paths()])
    assert xtr_band.max() == 20  # step 30 has one seed: the mean goes on, the band stops
    assert lines[1].get_xdata()[-1] == 30


def test_seed_band_interpolates_runs_evaluated_at_different_steps() -> None:
    runs = pd.DataFrame({"model_id": ["a"] * 3 + ["b"] * 2, "step": [0, 10, 20, 0, 20],
                         "value": [0.0, 0.5, 1.0, 0.2, 0.6]})
    band = figs.seed_band(runs).set_index("step")
    assert band.loc[10, "mean"] == pytest.approx((0.5 + 0.4) / 2) and band.loc[10, "n"] == 2
    assert band["n"].tolist() == [2, 2, 2]


# ----------------------------------------------------------------------------- data statistics
def test_data_statistics_figure(saved: list, tmp_path: Path) -> None:
    from ems.data.stats import STEPS, plot_counts

    langs = ["deu", "fra", "kab", "ces", "rus", "zho"]
    table = pd.DataFrame({"lang": langs, "name": langs})
    for i, step in enumerate(STEPS):
        table[step] = [int(10 ** (4 - 0.4 * i) * (j + 1)) for j in range(len(langs))]
    plot_counts(table, tmp_path / "s.pdf", tmp_path / "s.png")
    (fig, paths), = saved
    assert_paper_figure(fig, paths)
    assert fig.get_size_inches()[0] == pytest.approx(figstyle.TWO_COLUMN_IN)
    assert_legend_outside_axes(fig)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(STEPS)
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert ticks and all("$" not in t for t in ticks), ticks  # no 5.6 pt superscript exponents
    assert {"1k", "10k"} <= set(ticks), ticks


# ----------------------------------------------------------------------------- tuning figures
def test_tuning_figures(saved: list, tmp_path: Path) -> None:
    from tune_fixtures import make_objective, settings

    from ems.tune.figures import write_figures
    from ems.tune.run import make_spec, tune_worker
    from ems.tune.study import open_study

    cfg = settings(n_trials=8)
    study = open_study(make_spec(cfg, tmp_path))
    for point in ({"lr": 1e-3, "dropout": 0.0}, {"lr": 1e-3, "dropout": 0.2}, {"lr": 1e-3, "dropout": 0.49},
                  {"lr": 1e-4, "dropout": 0.4}):
        study.enqueue_trial(point)
    tune_worker(cfg, tmp_path, make_objective())
    study = open_study(make_spec(cfg, tmp_path))
    paths = {k: tmp_path / "fig" / f"{k}.png" for k in ("history", "importances", "parallel")}
    assert write_figures(study, paths) == {"history": True, "importances": True, "parallel": True}
    assert len(saved) == 3
    for fig, written in saved:
        assert_paper_figure(fig, written)
    history, _, parallel = (fig for fig, _ in saved)
    assert_legend_outside_axes(history)
    labels = {c.get_label() for c in history.axes[0].collections}
    assert {"completed", "pruned (last report)", "failed"} <= labels
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    ax = parallel.axes[0]
    trial_lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 3]  # objective, dropout, lr
    assert len(trial_lines) == len(done) >= 2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Dev retrieval\naccuracy", "dropout", "lr"]
    assert len(parallel.axes) == 2 and parallel.axes[1].get_ylabel() == "Dev retrieval accuracy"  # colour bar
    renderer = renderer_of(parallel)
    colour_bar = parallel.axes[1].get_window_extent(renderer)
    assert not any(t.get_window_extent(renderer).overlaps(colour_bar) for t in texts(parallel)
                   if t.axes is ax), "parallel-axis labels over the colour bar"


def test_placeholder_is_a_paper_figure(saved: list, tmp_path: Path) -> None:
    figstyle.placeholder(tmp_path / "x", "Parallel coordinates\nnot available: needs >= 1 completed trial(s)")
    (fig, paths), = saved
    assert_paper_figure(fig, paths)


# ----------------------------------------------------------------------------- training loss curve
def test_loss_curve(saved: list, tmp_path: Path) -> None:
    from ems.train.figures import plot_history

    history = [{"step": s, "loss/total": 3.0 / (s + 1), "loss/xtr": 2.0 / (s + 1)} for s in range(0, 50, 5)]
    history += [{"step": s, "dev/loss_total": 3.5 / (s + 1), "dev/retrieval_acc": s / 60} for s in (10, 20, 40)]
    plot_history(history, tmp_path / "loss_curve.png")
    (fig, paths), = saved
    assert_paper_figure(fig, paths)
    assert_legend_outside_axes(fig)
    assert fig.axes[1].get_ylabel().startswith("Dev retrieval accuracy")
    assert {t.get_text() for t in fig.legends[0].get_texts()} == {"train total", "train xtr", "dev total"}
    assert_legend_lists_what_is_drawn(fig)


def test_loss_curve_of_one_loss_term_lists_what_is_visible(saved: list, tmp_path: Path) -> None:
    """Objective ``xtr``: the total loss is the XTR loss; four lines coincide in two, the legend has two entries."""
    from ems.train.figures import plot_history

    history = [{"step": s, "loss/total": 2.0 / (s + 1), "loss/xtr": 2.0 / (s + 1)} for s in range(0, 50, 5)]
    history += [{"step": s, "dev/loss_total": 2.5 / (s + 1), "dev/loss_xtr": 2.5 / (s + 1), "dev/retrieval_acc": s / 60}
                for s in (10, 20, 40)]
    plot_history(history, tmp_path / "loss_curve.png")
    (fig, paths), = saved
    assert_paper_figure(fig, paths)
    assert legend_entries(fig) == ["train total = train xtr", "dev total = dev xtr"]
    assert_legend_lists_what_is_drawn(fig)


def test_drawn_entries_drop_hidden_and_empty_lines() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    a, = ax.plot([0, 1], [1, 2], label="a")
    hidden, = ax.plot([0, 1], [3, 4], label="hidden")
    hidden.set_visible(False)
    empty, = ax.plot([0, 1], [np.nan, np.nan], label="empty")
    b, = ax.plot([0, 1], [1, 2], label="b")  # drawn over a
    c, = ax.plot([0, 1], [5, 6], label="c")
    handles, labels = figstyle.drawn_entries([a, hidden, empty, b, c], ["a", "hidden", "empty", "b", "c"])
    assert labels == ["a = b", "c"] and handles == [b, c]


def test_style_restores_the_callers_settings() -> None:
    import matplotlib as mpl

    before = dict(mpl.rcParams)
    with figstyle.style():
        assert mpl.rcParams["pdf.fonttype"] == 42 and mpl.rcParams["ps.fonttype"] == 42
        assert mpl.rcParams["xtick.labelsize"] >= figstyle.MIN_FONT_PT
    assert dict(mpl.rcParams) == before
