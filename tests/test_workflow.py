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
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID")}
    env["EMS_DATA_MIRROR"] = str(MIRROR)  # the workflow's own embedded MLflow store is used
    return subprocess.run(
        SNAKEMAKE + args, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
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
    for stem in ("ablation_bars", "per_language_heatmap", "learning_curves", "cost_per_job"):
        for ext in ("png", "pdf"):
            assert (res / "figures" / f"{stem}.{ext}").stat().st_size > 0
    assert (res / "tables" / "ablation.tex").read_text().count("\\textbf") >= 1
    # the ablation_mlflow_summary job compares every table value with MLflow and fails on a mismatch
    receipt = json.loads((res / "tracking" / "ablation_summary.json").read_text())
    assert not receipt["mismatches"] and receipt["checked"]["ok"] > 0


@pytest.mark.slow
def test_smoke_training_is_tracked_and_uses_tuned_values(smoke_run: Path) -> None:
    import mlflow
    import yaml

    res = smoke_run / "results" / "smoke"
    best = yaml.safe_load((res / "tune" / "best_params.yaml").read_text())
    model_dirs = sorted(p.parent for p in (res / "models").rglob("run.json"))
    assert len(model_dirs) == 4  # 2 variants x 2 seeds
    for model_dir in model_dirs:
        resolved = json.loads((model_dir / "settings.resolved.json").read_text())
        assert resolved["train"]["lr"] == pytest.approx(best["train"]["lr"])
        run_info = json.loads((model_dir / "run.json").read_text())
        # the embedded store under results/, relative to the workflow folder (the project can be moved)
        assert run_info["tracking_uri"] == "sqlite:///results/smoke/mlflow/mlflow.db"
        store = smoke_run / run_info["tracking_uri"][len("sqlite:///"):]
        run = mlflow.MlflowClient(f"sqlite:///{store}").get_run(run_info["run_id"])
        assert run.info.status == "FINISHED"
        assert {"config_hash", "data_hash", "git_commit"} <= set(run.data.tags)
        assert "loss/total" in run.data.metrics and "tatoeba/acc_mean" in run.data.metrics
        assert "train.lr" in run.data.params or any(k.endswith("lr") for k in run.data.params)


@pytest.mark.slow
def test_fault_drill_kill_the_whole_run_then_recover(smoke_run: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """kill -9 of Snakemake's whole process group at a random moment of the training stage, then the one
    documented command (``ems recover -- <the same arguments>``): the run ends with the outputs of the
    uninterrupted smoke run, resumed trainings give the same weights, the killed attempt's log is kept."""
    import random
    import signal
    import time

    work = _workdir(tmp_path_factory.mktemp("drill"))
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID")}
    env["EMS_DATA_MIRROR"] = str(MIRROR)
    args = ["--cores", "2", "--configfile", "config/smoke.yaml"]
    seed = int(os.environ.get("EMS_DRILL_SEED", time.time_ns() % 1000))
    delay = random.Random(seed).uniform(0.0, 20.0)
    with open(work / "drill.log", "w") as log:
        proc = subprocess.Popen(SNAKEMAKE + args, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = time.monotonic() + 1200
        while time.monotonic() < deadline and proc.poll() is None:  # until a training has taken steps
            if any("step" in p.read_text(errors="replace") for p in (work / "logs" / "smoke" / "train").rglob("*.log")):
                break
            time.sleep(1)
        assert proc.poll() is None, "the run ended before a training started"
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)  # Snakemake and every job it started
        proc.wait()
        for pid_dir in Path("/proc").glob("[0-9]*"):  # a job in a group of its own: as a lost session would
            try:
                if Path(os.readlink(pid_dir / "cwd")) == work.resolve():
                    os.kill(int(pid_dir.name), signal.SIGKILL)
            except OSError:
                pass
    assert any((work / ".snakemake" / "locks").glob("*")), "the kill left no lock (nothing to recover)"
    interrupted = list((work / ".snakemake" / "incomplete").glob("*"))  # jobs running at the kill
    rec = subprocess.run([sys.executable, "-m", "ems.cli", "recover", "--", *args], cwd=work, env=env,
                         capture_output=True, text=True, check=False, timeout=1800)
    assert rec.returncode == 0, f"drill seed {seed}, kill {delay:.1f} s into training:\n{rec.stderr[-5000:]}"
    kept = list((work / "logs").rglob("*.log.attempt-*"))
    assert kept or not interrupted, "the killed attempt's logs were not kept"
    res, ref = work / "results" / "smoke", smoke_run / "results" / "smoke"
    # not compared: the MLflow store, and embedding caches (their folders are named by the model folder's
    # content hash, which includes its MLflow run id)
    def outputs(root: Path) -> set[str]:
        return {p.relative_to(root).as_posix() for p in root.rglob("*")
                if p.is_file() and "mlflow" not in p.parts and "cache" not in p.parts}

    produced, expected = outputs(res), outputs(ref)
    assert expected <= produced, sorted(expected - produced)[:10]
    compared = 0
    for weights in ref.glob("models/*/seed*/model/model.safetensors"):
        rel = weights.relative_to(ref)
        steps = [json.loads((root / rel.parent / "ems_model.json").read_text())["steps"] for root in (ref, res)]
        if steps[0] != steps[1]:  # a time budget ended one of them early: not comparable
            continue
        assert (res / rel).read_bytes() == weights.read_bytes(), f"{rel} differs after the drill (seed {seed})"
        compared += 1
    assert compared >= 2, "fewer than two trainings comparable"
