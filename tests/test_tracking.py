"""Tracking: store location, one parent run per configuration, a training run's MLflow record."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _train_toy import TINY_SETTINGS, make_toy_data

from ems.tracking import NullTracker, flatten_params
from ems.tracking.setup import resolve_tracking_uri, tracking_setup

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def _cfg(tmp: Path, **tracking: object) -> dict:
    return {"name": "toy", "results_dir": str(tmp / "results"), "tracking": {"uri": None, "experiment": None, **tracking}}


def test_tracking_uri_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    default = resolve_tracking_uri(_cfg(tmp_path))
    assert default == f"sqlite:///{(tmp_path / 'results' / 'toy' / 'mlflow' / 'mlflow.db').resolve()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert resolve_tracking_uri(_cfg(tmp_path)) == "http://tracking.example:5000"
    assert resolve_tracking_uri(_cfg(tmp_path, uri="sqlite:///x.db")) == "sqlite:///x.db"


def test_flatten_params_and_null_tracker() -> None:
    assert flatten_params({"train": {"lr": 0.001, "x": None}, "name": "a"}) == {
        "train.lr": "0.001", "train.x": "None", "name": "a"}
    t = NullTracker()
    t.log_params({"a": 1})
    t.log_metrics({"m": 1.0}, step=1)
    assert t.run_id is None


def test_setup_is_idempotent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    first = tracking_setup(_cfg(tmp_path), tmp_path / "parent.json")
    second = tracking_setup(_cfg(tmp_path), tmp_path / "parent2.json")
    assert first == second == json.loads((tmp_path / "parent.json").read_text())
    assert first["experiment"] == "ems-toy" and (tmp_path / "results" / "toy" / "mlflow" / "mlflow.db").exists()


def test_resume_reopens_the_same_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ems.tracking.mlflow_tracker import MlflowTracker

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    parent = tracking_setup(_cfg(tmp_path), tmp_path / "parent.json")
    t = MlflowTracker.attach(tmp_path / "parent.json", "m/seed1")
    t.log_metrics({"loss": 2.0}, step=1)
    t.close("KILLED")
    idle = MlflowTracker.resume(parent["tracking_uri"], t.run_id)
    idle.close("FAILED")  # a resume that never began training: the status stays
    assert idle.client.get_run(t.run_id).info.status == "KILLED"
    r = MlflowTracker.resume(parent["tracking_uri"], t.run_id)
    r.reopen()
    assert r.client.get_run(t.run_id).info.status == "RUNNING"
    r.log_metrics({"loss": 1.0}, step=2)
    r.close()
    run = r.client.get_run(t.run_id)
    assert run.info.status == "FINISHED" and run.data.tags["mlflow.parentRunId"] == parent["run_id"]
    assert [m.value for m in r.client.get_metric_history(t.run_id, "loss")] == [2.0, 1.0]


@pytest.mark.timeout(180)
def test_train_cli_records_a_complete_mlflow_run(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    toy = make_toy_data(tmp_path, n_train=128, n_valid=32)
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "WORLD_SIZE")}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", MPLBACKEND="Agg")
    cfg = _cfg(tmp_path)
    parent_json = tmp_path / "results" / "toy" / "tracking" / "parent.json"
    subprocess.run([sys.executable, "-m", "ems.cli", "tracking-setup", "--settings", json.dumps(cfg),
                    "--out", str(parent_json)], env=env, check=True, capture_output=True, timeout=120)
    settings = {**copy.deepcopy(TINY_SETTINGS), **cfg}
    settings["train"].update(max_steps=4, eval_every=2, log_every=2)
    out = tmp_path / "results" / "toy" / "models" / "both" / "seed3"
    proc = subprocess.run(
        [sys.executable, "-m", "ems.cli", "train", "--shards", str(toy["train"]), "--valid", str(toy["valid"]),
         "--tokenizer", str(toy["tokenizer"]), "--out", str(out), "--settings", json.dumps(settings),
         "--parent-run", str(parent_json), "--no-progress"],
        env=env, capture_output=True, text=True, timeout=170, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    parent = json.loads(parent_json.read_text())
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["tracking_uri"] == parent["tracking_uri"] and run_info["model_id"] == "both/seed3"
    client = MlflowClient(parent["tracking_uri"])
    run = client.get_run(run_info["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "both/seed3"
    assert run.data.tags["mlflow.parentRunId"] == parent["run_id"]
    meta = json.loads((toy["train"] / "meta.json").read_text())
    assert run.data.tags["data_hash"] == meta["content_sha256"] == run_info["data_hash"]
    assert run.data.tags["config_hash"] == run_info["config_hash"] and len(run.data.tags["git_commit"]) >= 7
    p = run.data.params
    assert p["train.lr"] == "0.003" and p["model.hidden_size"] == "32" and p["objective.temperature"] == "0.1"
    assert p["train.amsgrad"] == "True" and "derived.n_parameters" in p
    for key in ("loss/total", "loss/xtr", "loss/contrastive", "lr", "grad_norm", "pairs_per_s", "dev/retrieval_acc",
                "dev/loss_total"):
        assert key in run.data.metrics, key
    assert [m.step for m in client.get_metric_history(run.info.run_id, "dev/retrieval_acc")] == [2, 4]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"settings.resolved.json", "loss_curve.png", "history.csv", "model", "tokenizer"} <= artifacts
    model_files = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "model")}
    assert {"config.json", "model.safetensors", "modules.json"} <= model_files
    assert (tmp_path / "results" / "toy" / "mlflow" / "artifacts").exists()  # artifacts beside the store
