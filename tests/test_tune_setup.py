"""``tune-setup`` once, then two worker processes on one RDB study (SQLite here), one of them SIGKILLed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

from ems.cli import main
from ems.tune.run import make_spec, make_tracker, tune_summary, tune_worker
from ems.tune.study import open_study
from ems.tune.trials import RETRY_OF, outcome, trials_used

sys.path.insert(0, str(Path(__file__).parent))
import tune_fixtures
from tune_fixtures import make_objective, settings

mlflow_template, mlflow_uri = tune_fixtures.mlflow_template, tune_fixtures.mlflow_uri  # fixtures

FIXTURES = Path(__file__).with_name("tune_fixtures.py")
GRACE = 5  # seconds; generous, so a live worker on a loaded machine is never taken for dead


def _wait_for(path: Path, procs: list[subprocess.Popen], timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while not any(path.glob("started-*")):
        assert time.time() < deadline and all(p.poll() is None for p in procs), "worker did not start a trial"
        time.sleep(0.05)


def test_setup_once_then_two_workers_one_killed(tmp_path: Path, mlflow_uri: str) -> None:
    two_workers_one_killed(tmp_path, f"sqlite:///{tmp_path / 'study.db'}", mlflow_uri)


@pytest.mark.timeout(600)
def test_two_workers_on_a_real_postgresql(tmp_path: Path, postgres_db: str, postgres_db2: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The same on a real PostgreSQL (``.ci/run`` starts one): the study in one database, MLflow in another."""
    import psycopg2  # noqa: F401  (the postgres extra)

    monkeypatch.setenv("MLFLOW_TRACKING_URI", postgres_db2)
    two_workers_one_killed(tmp_path, postgres_db, postgres_db2)
    from sqlalchemy import create_engine, text

    with create_engine(postgres_db).connect() as conn:  # the trials are rows of the PostgreSQL database
        states = dict(conn.execute(text("SELECT state, count(*) FROM trials GROUP BY state")).fetchall())
    assert states.get("COMPLETE") == 6 and "RUNNING" not in states, states


def two_workers_one_killed(tmp_path: Path, storage: str, mlflow_uri: str) -> None:
    from mlflow.tracking import MlflowClient

    space = {**tune_fixtures.SPACE, "dropout": {"type": "float", "low": 0.0, "high": 0.4}}  # no trial diverges,
    cfg = settings(n_trials=6, pruner="none", storage=storage, heartbeat_interval=1,
                   heartbeat_grace=GRACE, enqueue=[{"lr": 1e-3}], space=space)  # so the kill lands inside one
    setup = tmp_path / "setup.json"
    assert main(["tune-setup", "--out-dir", str(tmp_path), "--settings", json.dumps(cfg), "--done", str(setup)]) == 0
    info = json.loads(setup.read_text())
    assert info["trials"] == 1 and info["study_run_id"]  # the enqueued baseline and the study's run exist
    assert main(["tune-setup", "--out-dir", str(tmp_path), "--settings", json.dumps(cfg)]) == 0  # rerun: harmless
    assert json.loads(setup.read_text())["study_run_id"] == info["study_run_id"]

    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, str(FIXTURES), json.dumps(cfg), str(tmp_path), str(w), "--mlflow",
                               "--sleep", "0.15", "--marker", str(tmp_path / f"marks-{w}")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for w in (0, 1)]
    _wait_for(tmp_path / "marks-1", procs)
    procs[1].send_signal(signal.SIGKILL)
    log = procs[0].communicate(timeout=180)[0]
    procs[1].wait()
    assert procs[0].returncode == 0 and "Traceback" not in log, log
    time.sleep(GRACE + 1)  # the killed trial's heartbeat is stale by now
    tune_worker(cfg, tmp_path, make_objective(), tracker=make_tracker(cfg, None))  # the rerun of the workflow
    tune_summary(cfg, tmp_path, tmp_path / "best.yaml", tmp_path / "trials.csv", {}, tracker=make_tracker(cfg, None))

    trials = open_study(make_spec(cfg, tmp_path)).trials
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    finished = [t for t in trials if outcome(t) == "complete"]
    assert len(finished) == 6 and trials_used(open_study(make_spec(cfg, tmp_path))) == 6  # exactly n_trials
    killed = [t for t in trials if outcome(t) == "interrupted"]
    assert len(killed) == 1 and "ems_outcome" not in killed[0].user_attrs  # failed by the heartbeat check
    assert len(trials) == 7
    retry = [t for t in trials if t.user_attrs.get(RETRY_OF) == killed[0].number]
    assert len(retry) == 1 and retry[0].params == killed[0].params and retry[0] in finished
    assert [t.params.get("lr") for t in trials if t.state == TrialState.COMPLETE].count(1e-3) == 1  # baseline once

    client = MlflowClient(mlflow_uri)
    runs = client.search_runs([client.get_experiment_by_name("tune-test").experiment_id])
    studies = [r for r in runs if r.data.tags.get("ems.role") == "study"]
    assert [r.info.run_id for r in studies] == [info["study_run_id"]]  # one study run, made by the setup
    trial_runs = [r for r in runs if r.data.tags.get("ems.role") == "trial"]
    assert sorted(int(r.data.tags["optuna.trial_number"]) for r in trial_runs) == [t.number for t in trials]
    assert {r.data.tags["mlflow.parentRunId"] for r in trial_runs} == {info["study_run_id"]}
    assert not [r for r in runs if r.info.status == "RUNNING"]
    statuses = {int(r.data.tags["optuna.trial_number"]): r.info.status for r in trial_runs}
    assert statuses[killed[0].number] == "KILLED"


def test_password_of_an_rdb_url_is_not_written(tmp_path: Path) -> None:
    from ems.tune.storage import shown

    assert shown("postgresql://ems:s3cret@db.example:5432/optuna") == "postgresql://ems:***@db.example:5432/optuna"
    assert shown("postgresql://ems@db/optuna") == "postgresql://ems@db/optuna"
    assert shown(str(tmp_path / "study.journal")) == str(tmp_path / "study.journal")
    from ems.errors import ConfigError
    from ems.tune.run import tune_setup

    cfg = settings(storage="postgresql://ems:s3cret@127.0.0.1:1/optuna")
    with pytest.raises(ConfigError, match="tune.storage: cannot open") as err:  # no driver / no server
        tune_setup(cfg, tmp_path, done=tmp_path / "setup.json")
    assert "s3cret" not in str(err.value) and "ems:***@127.0.0.1:1" in str(err.value)
    assert not (tmp_path / "setup.json").exists()
