"""Synthetic objective and a worker entry point for the tuning tests (no training needed).

The score of a point is known by construction: ``quality = 1 - (log10(lr) + 3)^2 / 4 - dropout``,
reached linearly over 5 dev evaluations; ``dropout >= 0.45`` diverges (NaN), as a too-high
learning rate would in real training. Run as a script, it is one worker process:
``python tune_fixtures.py SETTINGS_JSON OUT_DIR WORKER_ID [--mlflow] [--sleep S] [--marker DIR]
[--start-gate DIR]``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STEPS = (2, 4, 6, 8, 10)

SPACE = {
    "lr": {"type": "float", "low": 1.0e-4, "high": 1.0e-2, "log": True},
    "dropout": {"type": "float", "low": 0.0, "high": 0.5},
}


def quality(params: dict[str, Any]) -> float:
    return 1.0 - (math.log10(params["lr"]) + 3.0) ** 2 / 4.0 - params["dropout"]


def make_objective(sleep: float = 0.0, marker: Path | None = None):
    def objective(params: dict[str, Any], report: Any) -> float:
        if marker is not None:
            marker.mkdir(parents=True, exist_ok=True)
            (marker / f"started-{report.number}").touch()
        if params["dropout"] >= 0.45:
            return float("nan")
        q = quality(params)
        value = 0.0
        for step in STEPS:
            time.sleep(sleep)
            value = q * step / STEPS[-1]
            report(step, value)
        return value

    return objective


def settings(n_trials: int = 6, **tune: Any) -> dict[str, Any]:
    base = {"n_trials": n_trials, "budget_steps": 10, "eval_every": 2, "pruner": "median",
            "pruner_startup_trials": 2, "sampler_seed": 7, "space": SPACE}
    base.update(tune)
    return {"name": "toy", "tune": base, "tracking": {"uri": None, "experiment": "tune-test"}}


def main(argv: list[str] | None = None) -> int:
    import logging

    from ems.tune.run import interrupt_on_sigterm, make_tracker, tune_worker

    p = argparse.ArgumentParser()
    p.add_argument("settings")
    p.add_argument("out_dir")
    p.add_argument("worker_id", type=int)
    p.add_argument("--mlflow", action="store_true")
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--marker")
    p.add_argument("--start-gate", help="folder: touch ready-<id> there, then wait for 'go' (workers start together)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    interrupts = interrupt_on_sigterm()
    cfg = json.loads(args.settings)
    tracker = make_tracker(cfg, None) if args.mlflow else None
    objective = make_objective(args.sleep, Path(args.marker) if args.marker else None)
    if args.start_gate:
        gate = Path(args.start_gate)
        (gate / f"ready-{args.worker_id}").touch()
        deadline = time.time() + 120
        while not (gate / "go").exists() and time.time() < deadline:
            time.sleep(0.02)
    tune_worker(cfg, args.out_dir, objective, args.worker_id, tracker,
                done=Path(args.out_dir) / f"worker-{args.worker_id}.json", interrupts=interrupts)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def start_together(cmds: list[list[str]], gate: Path, env: dict[str, str], timeout: float = 120) -> list[str]:
    """Start worker processes, release them at once when all are ready; return their logs."""
    import subprocess

    gate.mkdir(parents=True, exist_ok=True)
    procs = [subprocess.Popen([*cmd, "--start-gate", str(gate)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for cmd in cmds]
    deadline = time.time() + timeout
    while len(list(gate.glob("ready-*"))) < len(cmds):
        if time.time() > deadline or any(p.poll() is not None for p in procs):
            break
        time.sleep(0.02)
    (gate / "go").touch()
    logs = [p.communicate(timeout=timeout)[0] for p in procs]
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log
    return logs


@pytest.fixture(scope="module")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite store, created once (its schema migrations take seconds)."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture()
def mlflow_uri(tmp_path: Path, mlflow_template: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    db = tmp_path / "mlflow.db"
    shutil.copy(mlflow_template, db)
    uri = f"sqlite:///{db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    return uri


def kill_worker_in_trial(cfg: dict[str, Any], out: Path, number: int, worker_id: int = 0,
                         sig: int = 9, env: dict[str, str] | None = None) -> int:
    """Run a worker process (0.2 s per report), send ``sig`` once it is inside trial ``number``; its exit code."""
    import os
    import subprocess

    marker = out / "marks"
    cmd = [sys.executable, str(Path(__file__)), json.dumps(cfg), str(out), str(worker_id), "--sleep", "0.2",
           "--marker", str(marker)]
    env = env or dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while not (marker / f"started-{number}").exists():
            assert time.time() < deadline and proc.poll() is None, f"worker did not reach trial {number}"
            time.sleep(0.05)
        time.sleep(0.1)
    finally:
        proc.send_signal(sig)
    return proc.wait(timeout=30)
