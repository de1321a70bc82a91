"""report.smk end to end on stub training/evaluation rules: figures, tables, report, rerun triggers.

The stubs (tests/ablation_stub_stage.py) stand in for the data, train and evaluate rules and
write files of the documented shapes (docs/interfaces.md) with known values; the ablation
rules themselves run for real. MLflow is left out here (tests/test_ablation_mlflow.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_rerun_triggers import ALLOWED, _planned

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent

STUBS = r'''
# Stub stages for tests/test_ablation_workflow.py (not the real rules).
import sys as _sys
_sys.path.insert(0, "@TESTS@")
from ablation_fixtures import write_shards as _write_shards
from ems import grid as _grid

STUB = "@TESTS@/ablation_stub_stage.py"


rule stub_shards:
    output:
        shards=directory(RESULTS / "shards" / "train"),
    log:
        LOGS / "stub_shards.log",
    run:
        _write_shards(Path(output.shards), {"deu": 30, "fra": 50, "rus": 20, "cmn_Hans": 10})


rule train:
    input:
        shards=lambda w: _grid.train_shards_dir(str(RESULTS), w.variant),
    output:
        run=RESULTS / "models" / "{variant}" / "seed{seed}" / "run.json",
        history=RESULTS / "models" / "{variant}" / "seed{seed}" / "history.csv",
    params:
        settings=lambda w: settings_json({**_grid.variant_overrides(config, w.variant), "seed": int(w.seed)}),
    log:
        LOGS / "train" / "{variant}" / "seed{seed}.log",
    benchmark:
        BENCH / "train" / "{variant}" / "seed{seed}.tsv"
    wildcard_constraints:
        variant=_grid.VARIANT_REGEX,
        seed=r"\d+",
    shell:
        "{sys.executable} {STUB} train $(dirname {output.run}) {wildcards.variant}/seed{wildcards.seed} > {log} 2>&1"


rule evaluate_stub:
    input:
        run=lambda w: [] if w.model.startswith("peer-") else [RESULTS / "models" / w.model / "run.json"],
    output:
        json=RESULTS / "eval" / "{model}" / "{task}.json",
        csv=RESULTS / "eval" / "{model}" / "{task}.csv",
    params:
        settings=lambda w: settings("evaluation"),
    log:
        LOGS / "eval" / "{model}" / "{task}.log",
    wildcard_constraints:
        task=r"[a-z0-9]+",
    shell:
        "{sys.executable} {STUB} evaluate {output.json} {output.csv} {wildcards.model} {wildcards.task}"
        " {params.settings:q} > {log} 2>&1"
'''


def _snakemake(work: Path, *args: str, timeout: int = 600) -> str:
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *args], cwd=work, env=env,
                          capture_output=True, text=True, check=False, timeout=timeout)
    if proc.returncode != 0:
        logs = "\n".join(f"== {p}\n{p.read_text()[-2000:]}" for p in sorted((work / "logs").rglob("*.log")))
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}\n{logs[-6000:]}")
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def stub_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wf")
    shutil.copy(ROOT / "Snakefile", work / "Snakefile")
    shutil.copy(ROOT / "config.yaml", work / "config.yaml")
    shutil.copytree(ROOT / "workflow", work / "workflow")
    shutil.copytree(ROOT / "envs", work / "envs")
    for stage in ("data", "train", "evaluate", "tune"):
        (work / "workflow" / "rules" / f"{stage}.smk").write_text(f"# {stage}: replaced by stubs.smk in this test\n")
    (work / "workflow" / "rules" / "train.smk").write_text(STUBS.replace("@TESTS@", str(TESTS)))
    # no tracking_setup stub: the MLflow summary (tests/test_ablation_mlflow.py) is left out of `all`
    snakefile = work / "Snakefile"
    snakefile.write_text(snakefile.read_text().replace(
        "all_targets(),", "[t for t in all_targets() if not str(t).endswith('ablation_summary.json')],"))
    cfg = {
        "name": "stub",
        "evaluation": {"tatoeba": {"enabled": True, "k": 4}, "flores": {"enabled": False},
                       "mining": {"enabled": True}, "sib200": {"enabled": False}, "umsab": {"enabled": False},
                       "peers": ["tfidf"]},
        "ablation": {"factors": {"objective": ["both", "xtr"], "language_embedding": [True], "temperature": [0.1],
                                 "data_fraction": [0.5, 1.0]}, "seeds": [1, 2]},
    }
    (work / "stub.yaml").write_text(yaml.safe_dump(cfg))
    _snakemake(work, "--configfile", "stub.yaml")
    return work


def test_report_rules_produce_every_figure_and_table(stub_run: Path) -> None:
    res = stub_run / "results" / "stub"
    for stem in ("ablation_bars", "per_language_heatmap", "learning_curves", "cost_per_job", "scaling_data_fraction"):
        for ext in ("png", "pdf"):
            assert (res / "figures" / f"{stem}.{ext}").stat().st_size > 1000
    table = pd.read_csv(res / "tables" / "ablation.csv")
    both = table[(table["variant"] == "objective~both_langemb~True_temp~0.1_frac~1.0") & (table["column"] == "tatoeba/acc_mean")]
    # stub value 0.8 + 0.01 * seed + 0.001 * len("tatoeba") + 0.0001 * k, mean over seeds 1 and 2
    assert both["mean"].item() == pytest.approx(0.8 + 0.015 + 0.007 + 0.0004)
    assert bool(both["best"].item())
    assert (res / "shards" / "train-frac0.5" / "meta.json").exists()
    assert json.loads((res / "shards" / "train-frac0.5" / "meta.json").read_text())["n_pairs"] == 55
    assert not (res / "tracking").exists()  # no tracking_setup rule: the MLflow summary is not a target


def test_snakemake_report_holds_figures_and_captions(stub_run: Path) -> None:
    _snakemake(stub_run, "--configfile", "stub.yaml", "--report", "report.zip")
    import zipfile

    with zipfile.ZipFile(stub_run / "report.zip") as zf:
        names = zf.namelist()
        assert any(n.endswith("ablation_bars.png") for n in names)
        tables = [n for n in names if n.endswith("ablation.html")]  # the table itself, rendered
        assert tables and "<table" in zf.read(tables[0]).decode()
        blob = "".join(zf.read(n).decode("utf-8", "replace") for n in names if n.endswith((".html", ".js")))
    assert "Ablation: headline metrics per grid cell" in blob and "configuration" in blob
    assert "All metrics over seeds" in blob  # entries labelled by name, not by file path


def test_evaluation_change_reruns_evaluation_and_aggregation_only(stub_run: Path) -> None:
    cfg = yaml.safe_load((stub_run / "stub.yaml").read_text())
    assert set(_planned(_snakemake(stub_run, "-n", "--rerun-triggers", "params", "--configfile", "stub.yaml"))) <= {"all"}
    cfg["evaluation"]["tatoeba"]["k"] = 8
    (stub_run / "stub_k8.yaml").write_text(yaml.safe_dump(cfg))
    planned = _planned(_snakemake(stub_run, "-n", "--rerun-triggers", "params", "--configfile", "stub_k8.yaml"))
    assert "train" not in planned and "stub_shards" not in planned
    assert {"evaluate_stub", "ablation_aggregate", "ablation_figures", "ablation_tables"} <= set(planned)
    assert all(ALLOWED.match(r) for r in planned), sorted(planned)
    cfg["ablation"]["seeds"] = [1, 2, 3]  # a new seed trains only the new models
    (stub_run / "stub_seed3.yaml").write_text(yaml.safe_dump({**cfg, "evaluation": yaml.safe_load((stub_run / "stub.yaml").read_text())["evaluation"]}))
    planned = _planned(_snakemake(stub_run, "-n", "--rerun-triggers", "params", "--configfile", "stub_seed3.yaml"))
    assert len(planned["train"]) == 4 and all("Missing output files" in r for r in planned["train"])
    assert len(planned["evaluate_stub"]) == 4 * 2  # only the new models' evaluations
