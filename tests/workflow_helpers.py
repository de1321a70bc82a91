"""Shared by the tests that run the real workflow or a real server: a copy of the workflow files, a
Snakemake run on it, and stopping a server's process group."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def workflow_copy(tmp: Path) -> Path:
    """``tmp`` holding a copy of the workflow files (not the package), so outputs land there."""
    tmp.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(ROOT / name, tmp / name)
    for name in ("config", "workflow", "envs", "profiles"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, tmp / name)
    return tmp


def run_snakemake(args: list[str], cwd: Path, mirror: Path, timeout: int = 1800) -> subprocess.CompletedProcess:
    """``snakemake ARGS`` in ``cwd`` with the data mirror and no inherited tracking store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING") and k != "MLFLOW_RUN_ID"}
    env["EMS_DATA_MIRROR"] = str(mirror)
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False, timeout=timeout)


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to a process started with ``start_new_session`` and its children, SIGKILL after 30 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run_config(work: Path, name: str, config: dict, mirror: Path) -> subprocess.CompletedProcess:
    """Write ``config`` as ``<work>/<name>.yaml`` and run the whole workflow on it with 2 cores; a failure
    fails the test with Snakemake's and the jobs' logs."""
    import pytest
    import yaml

    (work / f"{name}.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    proc = run_snakemake(["--cores", "2", "--configfile", f"{name}.yaml"], work, mirror)
    if proc.returncode != 0:
        logs = "\n".join(f"== {p}\n{p.read_text()[-2500:]}" for p in sorted((work / "logs").rglob("*.log")))
        pytest.fail(f"workflow failed:\n{proc.stderr[-4000:]}\n{logs[-15000:]}")
    return proc
