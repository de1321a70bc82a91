"""Fault drill (issue 14, item 8): the failures a cluster or a laptop really sees, on real processes.

Run: ``.venv/bin/python tests/faults/run_faults.py [--out DIR]`` (a few minutes on 2 cores;
the measured time is in docs/training.md). Each drill prints PASS/FAIL and a summary line;
the exit code is the number of failed drills. Not collected by pytest (the suite has the
unit-level versions of these cases); this is the end-to-end check with ``kill -9``.

1. ``kill -9`` an ``ems train`` at a random step, rerun it: final weights bit-identical to
   an uninterrupted run.
2. ``kill -9`` one of two tuning workers on one study (the suite's SIGKILL test, run here).
3. 8 parallel writers on one fresh SQLite MLflow store: no metric lost.
4. A full disk for the results folder (a 1 MiB tmpfs; needs root, else skipped): a clear
   one-line error, exit 2, no half-written model; resumable once there is space.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from _train_toy import TINY_SETTINGS, make_toy_data

ENV = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "HF_HUB_OFFLINE": "1",
       "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}


def train_cmd(toy: dict[str, Path], out: Path, settings: dict) -> list[str]:
    return [sys.executable, "-m", "ems.cli", "train", "--shards", str(toy["train"]), "--valid", str(toy["valid"]),
            "--tokenizer", str(toy["tokenizer"]), "--out", str(out), "--settings", json.dumps(settings),
            "--no-tracking", "--no-progress", "--keep-checkpoints"]


def drill_settings(max_steps: int = 120) -> dict:
    s = json.loads(json.dumps(TINY_SETTINGS))
    s["model"]["dropout"] = 0.1  # the RNG state must survive the kill too
    s["train"].update(max_steps=max_steps, eval_every=20, checkpoint_every=5, log_every=10)
    return s


def final_weights(out: Path) -> dict:
    import torch

    from ems.train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(out / "checkpoints" / "last.pt")
    assert isinstance(ckpt, dict)
    return {k: v for k, v in ckpt["model"].items() if isinstance(v, torch.Tensor)}


def same_weights(a: dict, b: dict) -> bool:
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def kill_train(toy: dict[str, Path], work: Path) -> str:
    settings = drill_settings()
    full = work / "full"
    subprocess.run(train_cmd(toy, full, settings), env=ENV, check=True, capture_output=True)
    part = work / "part"
    proc = subprocess.Popen(train_cmd(toy, part, settings), env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not list((part / "checkpoints").glob("*.pt")):
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 2.0))  # a random step after the first checkpoint
    if proc.poll() is not None:
        raise AssertionError("training finished before it could be killed; lengthen max_steps")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = _last_step(part)
    rerun = subprocess.run(train_cmd(toy, part, settings), env=ENV, capture_output=True, text=True, check=False)
    if rerun.returncode != 0:
        raise AssertionError(f"rerun after kill -9 failed (rc {rerun.returncode}): {rerun.stderr[-500:]}")
    if not same_weights(final_weights(full), final_weights(part)):
        raise AssertionError("weights after kill -9 + resume differ from the uninterrupted run")
    return f"killed after checkpoint step {killed_at}, resumed: final weights bit-identical"


def _last_step(run_dir: Path) -> int:
    from ems.train.checkpoint import load_checkpoint

    try:
        ckpt = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    except Exception:  # noqa: BLE001 - a torn checkpoint is what the rerun must survive
        return -1
    state = ckpt.get("state") or ckpt.get("run") or {}
    return int(state.get("step", -1))


def kill_tune_worker(toy: dict[str, Path], work: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "kill",
                           str(ROOT / "tests" / "test_tune_study.py"), str(ROOT / "tests" / "test_tune_setup.py")], env=ENV, capture_output=True, text=True, check=False,
                          cwd=ROOT)
    last = (proc.stdout.strip().splitlines() or ["no output"])[-1]
    if proc.returncode != 0 or " passed" not in last:
        raise AssertionError(f"tuning SIGKILL tests: {last}")
    return f"tuning SIGKILL tests: {last}"


WRITER = """
import sys, mlflow
uri, exp, i, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
mlflow.set_tracking_uri(uri)
client = mlflow.MlflowClient()
run = client.create_run(exp, run_name=f"writer{i}")
for step in range(n):
    client.log_metric(run.info.run_id, "m", float(step), step=step)
client.set_terminated(run.info.run_id)
"""


def sqlite_writers(toy: dict[str, Path], work: Path, writers: int = 8, metrics: int = 100) -> str:
    import mlflow

    uri = f"sqlite:///{work / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    exp = mlflow.MlflowClient().create_experiment("faults")
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, uri, exp, str(i), str(metrics)], env=ENV,
                              stderr=subprocess.PIPE, text=True) for i in range(writers)]
    errors = [p.communicate()[1][-300:] for p in procs if p.wait() != 0]
    if errors:
        raise AssertionError(f"{len(errors)} writers failed: {errors[0]}")
    client = mlflow.MlflowClient()
    runs = client.search_runs([exp])
    logged = sum(len(client.get_metric_history(r.info.run_id, "m")) for r in runs)
    if len(runs) != writers or logged != writers * metrics:
        raise AssertionError(f"{len(runs)} runs, {logged} of {writers * metrics} metrics")
    return f"{writers} parallel writers: {logged} of {writers * metrics} metrics, {len(runs)} runs, none lost"


def full_disk(toy: dict[str, Path], work: Path) -> str:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return "SKIPPED: needs root to mount a small tmpfs"
    mnt = work / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=False, capture_output=True).returncode:
        return "SKIPPED: this machine does not allow mounting a tmpfs"
    try:
        settings = drill_settings(max_steps=20)
        settings["model"].update(hidden_size=64, ffn_size=256)  # checkpoints larger than the disk
        out = mnt / "run"
        proc = subprocess.run(train_cmd(toy, out, settings), env=ENV, capture_output=True, text=True, check=False)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        if proc.returncode != 2 or "Traceback" in proc.stderr or not lines or "space" not in lines[-1].lower():
            raise AssertionError(f"full disk: rc {proc.returncode}, stderr ends {proc.stderr[-400:]!r}")
        if (out / "model").exists() or (out / "run.json").exists():
            raise AssertionError("full disk left a model or run.json behind")
        message = lines[-1]
        subprocess.run(["mount", "-o", "remount,size=64m", str(mnt)], check=True)
        again = subprocess.run(train_cmd(toy, out, settings), env=ENV, capture_output=True, text=True, check=False)
        if again.returncode != 0:
            raise AssertionError(f"rerun with space failed: {again.stderr[-400:]}")
        return f"full disk: rc 2, {message.strip()[:140]!r}; rerun with space finished"
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


DRILLS: dict[str, Callable[[dict[str, Path], Path], str]] = {
    "kill -9 training": kill_train,
    "kill -9 tuning worker": kill_tune_worker,
    "8 writers, one SQLite store": sqlite_writers,
    "full disk": full_disk,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="work folder (default: a temporary one, removed afterwards)")
    ap.add_argument("--only", action="append", choices=sorted(DRILLS), help="run only these drills")
    args = ap.parse_args()
    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="ems-faults-"))
    toy = make_toy_data(work / "toy")
    failed = 0
    start = time.time()
    for name, drill in DRILLS.items():
        if args.only and name not in args.only:
            continue
        t0 = time.time()
        folder = work / name.replace(" ", "_").replace(",", "")
        folder.mkdir(parents=True, exist_ok=True)
        try:
            result = drill(toy, folder)
            print(f"PASS {name} ({time.time() - t0:.0f} s): {result}", flush=True)
        except Exception as exc:  # noqa: BLE001 - a drill's failure is a result, not a crash
            failed += 1
            print(f"FAIL {name} ({time.time() - t0:.0f} s): {exc}", flush=True)
    print(f"faults: {len(args.only or DRILLS) - failed} passed, {failed} failed in {time.time() - start:.0f} s")
    if not args.out:
        shutil.rmtree(work, ignore_errors=True)
    return failed


if __name__ == "__main__":
    sys.exit(main())
