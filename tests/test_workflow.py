"""The Snakemake DAG as a user runs it: lint, dry runs, and the smoke configuration end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
MIRROR = Path(os.environ.get("EMS_DATA_MIRROR", ROOT.parent / "shared" / "data"))


def _workdir(tmp: Path) -> Path:
    """A copy of the workflow files (not the package) so outputs land in a temp folder."""
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(ROOT / name, tmp / name)
    for name in ("config", "workflow", "envs"):
        shutil.copytree(ROOT / name, tmp / name)
    return tmp


def _snakemake(args: list[str], cwd: Path, timeout: int = 1800) -> subprocess.CompletedProcess:
    env = dict(os.environ, EMS_DATA_MIRROR=str(MIRROR))
    return subprocess.run(
        SNAKEMAKE + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_lint_is_clean() -> None:
    proc = _snakemake(["--lint"], cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("overlay", [[], ["--configfile", "config/smoke.yaml"], ["--configfile", "config/paper.yaml"]])
def test_dry_run(tmp_path: Path, overlay: list[str]) -> None:
    work = _workdir(tmp_path)
    proc = _snakemake(["-n", "--cores", "2", *overlay], cwd=work, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_invalid_config_fails_before_any_job(tmp_path: Path) -> None:
    work = _workdir(tmp_path)
    proc = _snakemake(["-n", "--cores", "1", "--config", "corpus={'max_length_ratio': 0.5}"], cwd=work)
    assert proc.returncode != 0
    assert "max_length_ratio" in proc.stdout + proc.stderr
    assert not (work / "results").exists()


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not MIRROR.exists():
        pytest.skip(f"data mirror not found at {MIRROR} (set EMS_DATA_MIRROR)")
    work = _workdir(tmp_path_factory.mktemp("smoke"))
    proc = _snakemake(["--cores", "2", "--configfile", "config/smoke.yaml"], cwd=work)
    if proc.returncode != 0:
        logs = "\n".join(
            f"== {p}\n{p.read_text()[-3000:]}" for p in sorted((work / "logs").rglob("*.log"))
        )
        pytest.fail(f"smoke DAG failed:\n{proc.stderr[-5000:]}\n{logs[-20000:]}")
    return work


@pytest.mark.slow
def test_smoke_dag_produces_every_stage(smoke_run: Path) -> None:
    res = smoke_run / "results" / "smoke"
    meta = json.loads((res / "shards" / "train" / "meta.json").read_text())
    assert meta["n_pairs"] > 0
    assert (res / "tokenizer" / "tokenizer.json").exists()
