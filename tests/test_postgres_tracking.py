"""A shared MLflow tracking server on a real PostgreSQL takes the project's runs (``ems.tracking_server``).

Needs ``$EMS_TEST_POSTGRES_URL`` (``.ci/run`` starts a PostgreSQL 15 on 127.0.0.1); skips
without it. The server is started by the project's helper, bound to 127.0.0.1, and stopped by
PID; the project's own ``ems tracking-setup`` and ``ems train`` log to it over HTTP.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from _train_toy import TINY_SETTINGS, make_toy_data
from workflow_helpers import stop_group

from ems.tracking_server import server_command, tracking_uri, wait_until_ready


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID")}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", OMP_NUM_THREADS="1")
    return env


@pytest.fixture
def mlflow_server(postgres_db: str, tmp_path: Path):
    """``python -m ems.tracking_server`` on a fresh PostgreSQL database; yields (uri, artifacts folder, db url)."""
    port = _free_port()
    artifacts = tmp_path / "server-artifacts"
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 (closed below)
    cmd = [sys.executable, "-m", "ems.tracking_server", "--backend-store-uri", postgres_db,
           "--artifacts-destination", str(artifacts), "--port", str(port), "--workers", "1"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
                            start_new_session=True)
    uri = tracking_uri("127.0.0.1", port)
    try:
        try:
            wait_until_ready(uri, timeout=120, proc=proc)
        except (RuntimeError, TimeoutError) as exc:
            pytest.fail(f"{exc}\n{(tmp_path / 'server.log').read_text()[-3000:]}")
        yield uri, artifacts, postgres_db
    finally:
        stop_group(proc)  # the server and its workers
        log.close()


def test_helper_builds_a_loopback_database_backed_server(tmp_path: Path) -> None:
    cmd = server_command("postgresql://ems@127.0.0.1:5432/mlflow", str(tmp_path / "art"))
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--artifacts-destination") + 1] == (tmp_path / "art").resolve().as_uri()
    assert (tmp_path / "art").is_dir() and "--serve-artifacts" in cmd
    # the store URI travels in the environment, never on the command line (ps shows that to every user)
    from ems.tracking_server import server_env

    secret = "postgresql://ems:pw-on-ps@127.0.0.1:5432/mlflow"
    assert not any("5432" in part for part in server_command(secret, str(tmp_path / "art")))
    assert server_env(secret, {})["MLFLOW_BACKEND_STORE_URI"] == secret
    proc = subprocess.run([sys.executable, "-m", "ems.tracking_server", "--backend-store-uri", secret,
                           "--artifacts-destination", str(tmp_path / "a")], check=False, capture_output=True, text=True)
    assert proc.returncode == 2 and "ems:***@127.0.0.1" in proc.stderr and "pw-on-ps" not in proc.stderr
    with pytest.raises(ValueError, match="database URI"):
        server_command(str(tmp_path / "mlruns"), str(tmp_path / "art"))
    proc = subprocess.run([sys.executable, "-m", "ems.tracking_server", "--backend-store-uri", "./mlruns",
                           "--artifacts-destination", str(tmp_path / "a")], check=False, capture_output=True, text=True)
    assert proc.returncode == 2 and "database URI" in proc.stderr


@pytest.mark.timeout(300)
def test_project_tracking_logs_to_a_server_on_postgres(mlflow_server, tmp_path: Path) -> None:
    import psycopg2
    from mlflow.tracking import MlflowClient

    uri, artifacts, db = mlflow_server
    settings = copy.deepcopy(TINY_SETTINGS)
    settings.update(name="pgtest", results_dir=str(tmp_path / "results"), tracking={"uri": uri})
    settings["train"].update(max_steps=3, eval_every=3, checkpoint_every=3)
    toy = make_toy_data(tmp_path, n_train=64, n_valid=16)
    ems = [sys.executable, "-m", "ems.cli"]
    work = tmp_path / "job"  # the folder a cluster job runs in: nothing of MLflow may land here
    work.mkdir()
    parent_json = tmp_path / "parent.json"
    for _ in range(2):  # a rerun of the setup reuses the parent run
        subprocess.run([*ems, "tracking-setup", "--settings", json.dumps(settings), "--out", str(parent_json)],
                       env=_env(), cwd=work, check=True, timeout=120)
    parent = json.loads(parent_json.read_text())
    assert parent["tracking_uri"] == uri
    out = tmp_path / "models" / "both" / "seed1"
    proc = subprocess.run(
        [*ems, "train", "--shards", str(toy["train"]), "--valid", str(toy["valid"]), "--tokenizer", str(toy["tokenizer"]),
         "--out", str(out), "--settings", json.dumps(settings), "--parent-run", str(parent_json),
         "--model-id", "both/seed1", "--no-progress"],
        check=False, env=_env(), cwd=work, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]

    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([parent["experiment_id"]])
    assert len(runs) == 2  # one parent, one training child
    child = next(r for r in runs if r.info.run_id != parent["run_id"])
    assert child.data.tags["mlflow.parentRunId"] == parent["run_id"]
    assert child.info.status == "FINISHED" and child.data.metrics["steps"] == 3
    assert [m.step for m in client.get_metric_history(child.info.run_id, "dev/retrieval_acc")] == [3]
    listed = {a.path for a in client.list_artifacts(child.info.run_id)}
    assert {"history.csv", "heads.pt", "tokenizer"} <= listed, listed
    logged = list(client.search_logged_models([parent["experiment_id"]]))  # the model, as an MLflow model
    assert [(m.source_run_id, m.name) for m in logged] == [(child.info.run_id, "both-seed1")]  # cell and seed
    # the artifacts went through the server to its destination, not to the job's folder
    stored = list(artifacts.rglob("history.csv"))
    assert len(stored) == 1 and stored[0].read_bytes() == (out / "history.csv").read_bytes()
    assert not (work / "mlruns").exists() and not (work / "mlartifacts").exists()
    # and the runs are rows of the PostgreSQL database, not of a local file store
    from sqlalchemy.engine import make_url

    u = make_url(db)
    with psycopg2.connect(host=u.host, port=u.port, user=u.username, dbname=u.database) as conn, conn.cursor() as cur:
        cur.execute("SELECT run_uuid, status FROM runs ORDER BY start_time")
        rows = dict(cur.fetchall())
    assert set(rows) == {parent["run_id"], child.info.run_id} and rows[child.info.run_id] == "FINISHED"
    assert rows[parent["run_id"]] == "RUNNING"  # until the grid's summary step (ems mlflow-summary) ends it
