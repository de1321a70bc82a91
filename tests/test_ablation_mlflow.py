"""The ablation tables equal the MLflow metrics of a synthetic tracked grid (temporary SQLite store)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from ablation_fixtures import PEER_TATOEBA, tiny_config, write_results

from ems import grid
from ems.ablation import aggregate, mlflow_summary, outputs

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, dict]:
    from mlflow.tracking import MlflowClient

    cfg = tiny_config()
    root = tmp_path_factory.mktemp("tracked")
    res = write_results(root, cfg)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("ems-synthetic", artifact_location=(root / "artifacts").as_uri())
    parent = client.create_run(exp, run_name="synthetic", tags={"ems.role": "parent"}).info.run_id
    # One child per model, as the trainer does; its evaluation metrics logged under the eval JSON keys.
    for mid in grid.model_ids(cfg):
        run = client.create_run(exp, run_name=mid, tags={"mlflow.parentRunId": parent}).info.run_id
        (res / "models" / mid / "run.json").write_text(json.dumps({"run_id": run, "experiment_id": exp, "tracking_uri": uri}))
        for f in sorted((res / "eval" / mid).glob("*.json")):
            for key, value in json.loads(f.read_text())["metrics"].items():
                if isinstance(value, (int, float)):
                    client.log_metric(run, key, float(value))
    # A peer has no training run: its evaluation gets a child run of its own (as ems.evaluation.tracking does).
    peer = client.create_run(exp, run_name="peer-tfidf/tatoeba",
                             tags={"mlflow.parentRunId": parent, "ems.model_id": "peer-tfidf",
                                   "ems.role": "peer"}).info.run_id
    client.log_metric(peer, "tatoeba/acc_mean", PEER_TATOEBA)
    parent_doc = {"run_id": parent, "experiment_id": exp, "tracking_uri": uri}
    (res / "tracking").mkdir()
    (res / "tracking" / "parent.json").write_text(json.dumps(parent_doc))
    aggregate.aggregate(aggregate.find_eval_files(res / "eval"), res / "ablation", grid.reference_variant(cfg), res / "eval")
    inputs = outputs.Inputs(cfg, res / "ablation", res / "models", res / "shards" / "train")
    outputs.make_tables(inputs, res / "tables")
    return cfg, res, parent_doc


def test_tables_equal_mlflow_metrics(tracked: tuple[dict, Path, dict]) -> None:
    cfg, res, parent = tracked
    run_ids = mlflow_summary.run_ids_from_models(res / "models", grid.model_ids(cfg))
    check = mlflow_summary.verify(res / "ablation", parent, run_ids)
    assert len(check[check["level"] == "run"]) == 6 * 4 + 1  # 6 models × 4 numeric metrics + the peer
    assert (check["status"] == "ok").all(), check[check["status"] != "ok"]
    table = pd.read_csv(res / "tables" / "ablation.csv")
    cmp = mlflow_summary.compare_table(table, check)
    assert len(cmp) == 2 * 3 + 1 and (cmp["status"] == "ok").all()
    # Found through run names alone, too (no run.json).
    by_name = mlflow_summary.verify(res / "ablation", parent, {})
    assert (by_name.loc[~by_name["id"].str.startswith("peer-"), "status"] == "ok").all()


def test_a_changed_mlflow_metric_is_a_mismatch(tracked: tuple[dict, Path, dict]) -> None:
    cfg, res, parent = tracked
    long = pd.read_csv(res / "ablation" / "long.csv")
    summary = pd.read_csv(res / "ablation" / "summary.csv")
    runs = mlflow_summary.search_runs(parent["tracking_uri"], parent["experiment_id"])
    mid = grid.model_ids(cfg)[0]
    runs.loc[runs["tags.mlflow.runName"] == mid, "metrics.mining/f1"] += 0.01
    check = mlflow_summary.compare_with_mlflow(long, summary, runs)
    bad = check[check["status"] == "mismatch"]
    assert set(zip(bad["level"], bad["id"], bad["metric"])) == {
        ("run", mid, "mining/f1"), ("mean", mid.split("/")[0], "mining/f1")}


def test_cli_logs_artifacts_to_the_parent_run(tracked: tuple[dict, Path, dict]) -> None:
    from mlflow.tracking import MlflowClient

    cfg, res, parent = tracked
    files = sorted(str(p) for p in (res / "tables").glob("ablation.*"))
    settings = json.dumps({"name": cfg["name"], "ablation": cfg["ablation"]})
    proc = subprocess.run([sys.executable, "-m", "ems.cli", "mlflow-summary", "--parent", str(res / "tracking" / "parent.json"),
                           "--aggregate", str(res / "ablation"), "--models", str(res / "models"),
                           "--table", str(res / "tables" / "ablation.csv"), "--files", *files,
                           "--out", str(res / "tracking" / "summary.json"), "--settings", settings,
                           "--config", json.dumps(cfg)],
                          capture_output=True, text=True, check=False, env=dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true"))
    assert proc.returncode == 0, proc.stderr
    receipt = json.loads((res / "tracking" / "summary.json").read_text())
    assert receipt["checked"] == {"ok": (6 * 4 + 1) + (2 * 4 + 1) + (2 * 3 + 1)}  # runs, means, table cells
    logged = {a.path for a in MlflowClient(parent["tracking_uri"]).list_artifacts(parent["run_id"], "ablation/tables")}
    assert {"ablation/tables/ablation.csv", "ablation/tables/ablation.tex"} <= logged


def test_summary_finishes_the_parent_with_config_headline_and_short_names(tracked: tuple[dict, Path, dict]) -> None:
    """After test_cli_logs_artifacts_to_the_parent_run (same module fixture): the parent run holds the
    resolved config, the headline table (means over seeds of summary.csv) and a description, and has ended;
    the models' runs carry the grid's short names (only objective varies: both/s1 ... xtr/s3)."""
    from mlflow.tracking import MlflowClient

    cfg, res, parent = tracked
    client = MlflowClient(parent["tracking_uri"])
    run = client.get_run(parent["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["ablation.seeds"] == "[1, 2, 3]" and run.data.params["objective.temperature"] == "0.1"
    assert run.data.params["name"] == "synthetic"
    m = run.data.metrics
    assert m["both/tatoeba/acc_mean"] == pytest.approx((0.80 + 0.84 + 0.82) / 3)
    assert m["xtr/tatoeba/acc_mean"] == pytest.approx((0.70 + 0.75 + 0.71) / 3)
    assert m["peer-tfidf/tatoeba/acc_mean"] == pytest.approx(PEER_TATOEBA)
    summary = pd.read_csv(res / "ablation" / "summary.csv")
    row = summary[(summary["variant"] == grid.reference_variant(cfg)) & (summary["metric"] == "mining/f1")].iloc[0]
    assert m["both/mining/f1"] == pytest.approx(row["mean"]) and m["both/mining/f1/ci95"] == pytest.approx(row["ci95"])
    # only each task's primary metric (and its CI) per cell: the rest is in the summary.csv artifact
    primary = set(mlflow_summary.primary_metrics(summary))
    assert primary >= {"tatoeba/acc_mean", "mining/f1"}
    assert all(key.split("/", 1)[1].removesuffix("/ci95") in primary for key in m), sorted(m)
    note = run.data.tags["mlflow.note.content"]
    assert "| both | " in note and f"{(0.80 + 0.84 + 0.82) / 3:.4f}" in note and "ems.cell_short" in note
    row = summary[(summary["variant"] == grid.reference_variant(cfg)) & (summary["metric"] == "tatoeba/acc_mean")].iloc[0]
    assert f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]" in note and "±" not in note  # the clipped interval
    # the ready comparison view: runs grouped by the short cell tag, the primary metrics as columns
    view = json.loads(client.get_experiment(parent["experiment_id"]).tags["mlflow.sharedViewState.ems-cells"])
    assert view["groupBy"]["groupByKeys"] == [{"mode": "tag", "groupByData": "ems.cell_short"}]
    assert "metrics.`tatoeba/acc_mean`" in view["selectedColumns"] and "tags.`ems.factor.objective`" in view["selectedColumns"]
    assert run.data.tags["ems.grid.varying"] == "objective" and run.data.tags["mlflow.source.git.commit"]
    config = client.download_artifacts(parent["run_id"], "config/resolved.yaml", str(res / "dl"))
    assert yaml.safe_load(Path(config).read_text())["ablation"]["seeds"] == [1, 2, 3]
    names, short = {}, {}
    for mid, rid in mlflow_summary.run_ids_from_models(res / "models", grid.model_ids(cfg)).items():
        names[mid] = client.get_run(rid).info.run_name
        short[mid] = client.get_run(rid).data.tags["ems.cell_short"]
    assert sorted(names.values()) == ["both/s1", "both/s2", "both/s3", "xtr/s1", "xtr/s2", "xtr/s3"]
    assert sorted(set(short.values())) == ["both", "xtr"]  # distinct, short group labels
    peer = client.search_runs([parent["experiment_id"]], filter_string="tags.`ems.model_id` = 'peer-tfidf'")[0]
    assert peer.data.tags["ems.cell_short"] == "TF-IDF"  # a group of its own beside the cells
    assert names[f"{grid.reference_variant(cfg)}/seed2"] == "both/s2"
