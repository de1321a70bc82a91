"""The MTEB export in MTEB's conventions, read back whole by the real ``mteb`` package.

The layout test runs everywhere; the read-back test needs ``mteb`` (docs/evaluation.md names
the version it was run with) and skips with the reason when it is not installed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_latex_tables import SOURCES, TASK_LANGS, paper_config, write_model

from ems import grid
from ems.ablation import mteb


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> dict:
    cfg = paper_config()
    res = tmp_path_factory.mktemp("mteb") / "results" / cfg["name"]
    models = grid.model_ids(cfg)[:2]
    for model in models:
        write_model(res, model)
    settings = json.dumps({"sources": {**SOURCES, **{r: {"repo": "o/r", "commit": "0" * 40, "paths": ["x/"]}
                                                      for r in ("opus_mt_testsets", "sib200", "umsab")},
                                        "laser": {**SOURCES["laser"], "paths": ["data/"]}}})
    evals = sorted(p for m in models for p in (res / "eval" / m).glob("*.json"))
    proc = subprocess.run([sys.executable, "-m", "ems.cli", "mteb-export", "--evals", *map(str, evals),
                           "--out", str(res / "mteb"), "--settings", settings], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return {"out": res / "mteb", "models": models, "evals": evals, "tasks": sorted({p.stem for p in evals}),
            "res": res}


def test_export_uses_mteb_names_layout_and_model_meta(export: dict) -> None:
    out, models = export["out"], export["models"]
    assert set(mteb.export_paths(export["evals"], out, export["res"] / "eval")) == {
        p for p in out.rglob("*") if p.is_file()}  # the rule's outputs are exactly what is written
    for model in models:
        folder = out / "results" / model.replace("/", "__") / "no_revision_available"
        meta = json.loads((folder / "model_meta.json").read_text())
        assert meta["name"] == model and meta["revision"] == "no_revision_available"
        names = sorted(p.stem for p in folder.glob("*.json") if p.name != "model_meta.json")
        assert names == sorted(["Tatoeba", "SIB200Classification", "ems_flores", "ems_mining", "ems_umsab"])
    tat = json.loads(mteb.result_path(out, models[0], "tatoeba").read_text())
    assert tat["task_name"] == "Tatoeba" and tat["mteb_version"] == mteb.MTEB_FORMAT_VERSION
    subsets = {s["hf_subset"]: s for s in tat["scores"]["test"]}
    assert len(subsets) == len(TASK_LANGS["tatoeba"])
    assert subsets["deu-eng"]["languages"] == ["deu-Latn", "eng-Latn"]  # LASER code, both with scripts
    assert subsets["ara-eng"]["languages"] == ["arb-Arab", "eng-Latn"]  # our arb_Arab is MTEB's ara-eng
    assert subsets["cmn-eng"]["languages"] == ["cmn-Hans", "eng-Latn"]
    assert subsets["jpn-eng"]["languages"] == ["jpn-Jpan", "eng-Latn"]
    assert subsets["deu-eng"]["accuracy"] == subsets["deu-eng"]["acc_xx2en"]  # MTEB's accuracy: xx -> en
    sib = json.loads(mteb.result_path(out, models[0], "sib200").read_text())
    assert [s["hf_subset"] for s in sib["scores"]["test"]] == ["deu_Latn", "fra_Latn", "hin_Deva", "swh_Latn"]
    assert sib["scores"]["test"][2]["languages"] == ["hin-Deva"]
    flores = json.loads(mteb.result_path(out, models[0], "flores").read_text())
    assert flores["task_name"] == "ems_flores"  # a subset of FLORES-200: not MTEB's FloresBitextMining


def test_mteb_reads_every_model_and_task_back(export: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    mteb_pkg = pytest.importorskip("mteb", reason="the mteb package is not installed (docs/evaluation.md: "
                                   "pip install mteb==2.26.24 to run this read-back)")
    out, models = export["out"], export["models"]
    expected_tasks = {mteb.task_name(t) for t in export["tasks"]}

    results = mteb_pkg.ResultCache(out).load_results(include_remote=False, validate_and_filter=False)
    got = {r.model_name: r for r in results.model_results}
    assert set(got) == set(models)
    for model in models:
        assert {t.task_name for t in got[model].task_results} == expected_tasks
    tat = next(t for t in got[models[0]].task_results if t.task_name == "Tatoeba")
    ours = json.loads(mteb.result_path(out, models[0], "tatoeba").read_text())
    assert tat.get_score() == pytest.approx(sum(s["main_score"] for s in ours["scores"]["test"])
                                            / len(ours["scores"]["test"]))

    # the deprecated module-level loader reads the same folder as its cache
    monkeypatch.setenv("MTEB_CACHE", str(out))
    legacy = mteb_pkg.load_results(download_latest=False, validate_and_filter=False)
    assert {r.model_name for r in legacy.model_results} == set(models)
    assert all({t.task_name for t in r.task_results} == expected_tasks for r in legacy.model_results)

    # validated against MTEB's task metadata (ems_* tasks are not MTEB's, so only its own are asked for):
    # subsets and split recognised
    checked = mteb_pkg.ResultCache(out).load_results(tasks=["Tatoeba", "SIB200Classification"],
                                                      include_remote=False, validate_and_filter=True)
    assert {r.model_name for r in checked.model_results} == set(models)
    for r in checked.model_results:
        names = {t.task_name for t in r.task_results}
        assert {"Tatoeba", "SIB200Classification"} <= names
        tat = next(t for t in r.task_results if t.task_name == "Tatoeba")
        assert "deu-eng" in {s["hf_subset"] for s in tat.scores["test"]}
