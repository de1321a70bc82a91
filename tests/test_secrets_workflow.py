"""A password in ``tracking.uri`` reaches no file and no command line (issue 25, items 1 and 5).

A real MLflow tracking server on 127.0.0.1 (``ems.tracking_server``, SQLite backend, served
artifacts); the workflow trains one tiny model and evaluates it and a peer with
``tracking.uri: http://alice:<password>@127.0.0.1:<port>``. Then every file under ``results/``,
``logs/``, ``.snakemake/``, the server's artifact folder and its database is searched for the
password. Also: the same results folder with another ``tracking.uri`` stops before any job, naming
both stores.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from workflow_helpers import run_config, run_snakemake, stop_group, workflow_copy

SECRET = "Pw-9f3k-never-on-disk"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def mlflow_server(tmp_path: Path):
    """``python -m ems.tracking_server`` on a SQLite store; yields (port, server folder); stopped by PID."""
    from ems.tracking_server import wait_until_ready

    folder = tmp_path / "server"
    folder.mkdir()
    port = _free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
           "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{folder / 'mlflow.db'}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    log = open(folder / "server.log", "w")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen([sys.executable, "-m", "ems.tracking_server", "--artifacts-destination",
                             str(folder / "artifacts"), "--port", str(port), "--workers", "1"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", timeout=120, proc=proc)
        yield port, folder
    finally:
        stop_group(proc)
        log.close()


def _config(uri: str) -> dict:
    return {
        "name": "secret",
        "corpus": {"languages": ["deu", "fra"], "min_pairs_per_language": 50, "valid_pairs_per_language": 64,
                   "max_pairs_per_language": 800, "max_train_pairs": 1200},
        "tokenizer": {"vocab_size": 1000, "sample_sentences_per_language": 800, "max_length": 32},
        "model": {"layers": 1, "hidden_size": 32, "heads": 2, "ffn_size": 64, "max_positions": 64,
                  "lang_embedding_dim": 8, "projection_dim": 8},
        "train": {"batch_size": 32, "warmup_steps": 2, "max_steps": 6, "max_seconds": 60, "eval_every": 3,
                  "checkpoint_every": 3, "log_every": 3},
        "mining": {"languages": {}},
        "evaluation": {"batch_size": 64, "tatoeba": {"enabled": True, "languages": ["deu", "fra"]},
                       "flores": {"enabled": False}, "mining": {"enabled": False}, "sib200": {"enabled": False},
                       "umsab": {"enabled": False}, "peers": ["tfidf"]},
        "ablation": {"factors": {"objective": ["both"], "language_embedding": [True], "temperature": [0.1],
                                 "data_fraction": [1.0]}, "seeds": [1]},
        "tune": {"enabled": False},
        "tracking": {"uri": uri},
    }


@pytest.mark.slow
def test_no_password_on_disk_and_a_store_change_stops(tmp_path: Path, mirror: Path, mlflow_server) -> None:
    port, server = mlflow_server
    work = workflow_copy(tmp_path / "work")
    uri = f"http://alice:{SECRET}@127.0.0.1:{port}"
    proc = run_config(work, "secret", _config(uri), mirror)
    res = work / "results" / "secret"
    assert (res / "eval" / "peer-tfidf" / "tatoeba.json").is_file()
    assert next((res / "models").glob("*/seed1/model/model.safetensors")).is_file()
    # the runs reached the server (through the password-less files and the inherited environment)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"http://127.0.0.1:{port}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert any(r.data.metrics.get("tatoeba/acc_mean") is not None for r in runs)
    assert any((server / "artifacts").rglob("settings.resolved.json"))
    searched = 0
    for folder in (work / "results", work / "logs", work / ".snakemake", server):
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                searched += 1
                assert SECRET.encode() not in path.read_bytes(), f"password written to {path}"
    assert searched > 100
    assert SECRET not in proc.stdout + proc.stderr
    # another store on the same results folder: stop before any job, naming both (password hidden)
    other = f"http://127.0.0.1:{_free_port()}"
    (work / "other.yaml").write_text(yaml.safe_dump(_config(other)), encoding="utf-8")
    moved = run_snakemake(["-n", "--cores", "1", "--configfile", "other.yaml"], work, mirror)
    errors = [line for line in moved.stderr.splitlines() if line.startswith("error:")]
    assert moved.returncode == 2 and len(errors) == 1, moved.stderr[-2000:]
    assert f"alice:***@127.0.0.1:{port}" in errors[0] and other in errors[0] and SECRET not in moved.stderr
