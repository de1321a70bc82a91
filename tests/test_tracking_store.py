"""Where tracking data lives: artifacts of direct database URIs, and results that survive being moved."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from ems.tracking.setup import artifact_location, portable_uri, tracking_setup

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def _cfg(results: str, **tracking: object) -> dict:
    return {"name": "toy", "results_dir": results, "tracking": {"uri": None, "experiment": None, **tracking}}


def test_artifacts_of_a_direct_database_go_under_results_not_the_job_folder(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pg = "postgresql://ems@127.0.0.1:5432/mlflow"
    assert artifact_location(pg, _cfg("results")) == (tmp_path / "results" / "toy" / "mlflow" / "artifacts").as_uri()
    assert artifact_location("postgresql+psycopg2://ems@db/mlflow", _cfg("r")).endswith("/r/toy/mlflow/artifacts")
    assert artifact_location(pg, _cfg("results", artifact_location="shared/art")) == (tmp_path / "shared/art").as_uri()
    assert artifact_location(pg, _cfg("results", artifact_location="s3://bucket/ems")) == "s3://bucket/ems"
    assert artifact_location("http://127.0.0.1:5000", _cfg("results")) is None  # the server's destination decides
    db = tmp_path / "store" / "mlflow.db"
    assert artifact_location(f"sqlite:///{db}", _cfg("results")) == (db.parent / "artifacts").as_uri()


def test_portable_uri_is_relative_only_inside_the_working_folder(tmp_path: Path) -> None:
    inside = tmp_path / "results" / "toy" / "mlflow" / "mlflow.db"
    assert portable_uri(f"sqlite:///{inside}", tmp_path) == "sqlite:///results/toy/mlflow/mlflow.db"
    elsewhere = Path("/var/tmp/other/mlflow.db")
    assert portable_uri(f"sqlite:///{elsewhere}", tmp_path) == f"sqlite:///{elsewhere}"
    assert portable_uri("postgresql://ems@127.0.0.1/mlflow", tmp_path) == "postgresql://ems@127.0.0.1/mlflow"
    assert portable_uri("sqlite:///relative.db", tmp_path) == "sqlite:///relative.db"


def test_a_moved_project_keeps_its_tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """parent.json holds no absolute store path: the project folder copied elsewhere attaches to the same runs."""
    from mlflow.tracking import MlflowClient

    from ems.tracking.mlflow_tracker import MlflowTracker

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    old = tmp_path / "old"
    old.mkdir()
    monkeypatch.chdir(old)
    parent = tracking_setup(_cfg("results"), Path("results/toy/tracking/parent.json"))
    assert parent["tracking_uri"] == "sqlite:///results/toy/mlflow/mlflow.db"
    assert str(tmp_path) not in Path("results/toy/tracking/parent.json").read_text()

    shutil.move(old, tmp_path / "new")
    monkeypatch.chdir(tmp_path / "new")
    run = MlflowTracker.attach("results/toy/tracking/parent.json", "m/s1")
    run.log_metrics({"loss": 1.0}, step=1)
    run.close()
    client = MlflowClient(json.loads(Path("results/toy/tracking/parent.json").read_text())["tracking_uri"])
    child = client.get_run(run.run_id)
    assert child.data.tags["mlflow.parentRunId"] == parent["run_id"]  # the same store, found from the new place
    assert not (tmp_path / "old").exists()
