"""``ems.launch``: torchrun or direct, threads per rank, and one device per parallel GPU job (no GPU needed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ems.launch import claim_devices, launch_command, plan, process_count, threads_per_process

# A stand-in for `ems.cli` that reports what a rank sees.
PROBE = """
import json, os, sys, time
time.sleep(float(os.environ.get("PROBE_SLEEP", "0")))
report = {k: os.environ.get(k) for k in ("CUDA_VISIBLE_DEVICES", "RANK", "WORLD_SIZE", "LOCAL_RANK",
                                         "OMP_NUM_THREADS")} | {"argv": sys.argv[1:]}
# One write(2) per line: ranks share the pipe, and under PYTHONUNBUFFERED print's text and newline are two writes.
os.write(1, (json.dumps(report) + "\\n").encode())
"""


@pytest.fixture
def probe_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "ems_probe.py").write_text(textwrap.dedent(PROBE))
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", "WORLD_SIZE", "RANK")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    return env


def _launch(args: list[str], env: dict[str, str], **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ems.launch", "--module", "ems_probe", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _ranks(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_decides_torchrun_from_gpus_and_processes() -> None:
    assert [process_count(g, p) for g, p in ((0, 1), (0, 0), (1, 1), (1, 4), (0, 2), (2, 1), (4, 2))] == [
        1, 1, 1, 1, 2, 2, 4]
    assert launch_command(1, ["train", "--out", "x"], python="py") == ["py", "-m", "ems.cli", "train", "--out", "x"]
    assert launch_command(2, ["train"], python="py") == [
        "py", "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "ems.cli", "train"]
    assert [threads_per_process(t, n) for t, n in ((8, 1), (8, 2), (3, 2), (1, 4))] == [8, 4, 1, 1]
    with pytest.raises(ValueError):
        process_count(-1, 1)


def test_plan_respects_devices_the_scheduler_assigned() -> None:
    p = plan(2, 1, 16, ["train"], {}, total_gpus=4)
    assert p["nproc"] == 2 and p["claim"] == 2 and p["command"][-3:] == ["train", "--threads", "8"]
    assert p["env"] == {"OMP_NUM_THREADS": "8"}
    assert plan(2, 1, 16, ["train"], {"CUDA_VISIBLE_DEVICES": "5,7"}, total_gpus=8)["claim"] == 0  # SLURM --gpus
    assert plan(1, 1, 0, ["train"], {}, total_gpus=0)["claim"] == 0  # no GPU visible: CPU
    assert plan(0, 2, 4, ["train"], {}, total_gpus=2)["claim"] == 0  # CPU ranks claim no device
    with pytest.raises(ValueError, match="asks for 3 GPUs"):
        plan(3, 1, 0, ["train"], {}, total_gpus=2)


def test_claims_are_exclusive_and_released(tmp_path: Path) -> None:
    a = claim_devices(1, 3, tmp_path)
    b = claim_devices(2, 3, tmp_path)
    assert a.devices == [0] and b.devices == [1, 2]
    with pytest.raises(TimeoutError):
        claim_devices(1, 3, tmp_path, timeout=0.2, poll=0.05)
    b.release()
    c = claim_devices(2, 3, tmp_path, timeout=1)
    assert c.devices == [1, 2]
    a.release()
    c.release()


def test_a_killed_holder_frees_its_device(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", (f"from ems.launch import claim_devices; c = claim_devices(1, 2, {str(tmp_path)!r}); "
                                "print(c.devices, flush=True); import time; time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "[0]"
    assert claim_devices(1, 2, tmp_path, timeout=1).devices == [1]  # 0 is held by the other process
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert claim_devices(1, 2, tmp_path, timeout=1).devices == [0]  # the kernel dropped the dead job's lock


@pytest.mark.timeout(120)
def test_parallel_one_gpu_jobs_get_their_own_device(tmp_path: Path, probe_env: dict[str, str]) -> None:
    env = {**probe_env, "PROBE_SLEEP": "3"}  # both jobs run at the same time
    slots = tmp_path / "slots"
    jobs = [_launch(["--gpus", "1", "--total-gpus", "2", "--slots", str(slots), "--", "train", f"--job={i}"], env)
            for i in range(2)]
    outs = [j.communicate(timeout=60) for j in jobs]
    assert all(j.returncode == 0 for j in jobs), [o[1][-2000:] for o in outs]
    seen = [_ranks(o[0])[0] for o in outs]
    assert sorted(s["CUDA_VISIBLE_DEVICES"] for s in seen) == ["0", "1"]
    # a third job waits for a device and gets the one freed first
    t0 = time.monotonic()
    first = _launch(["--gpus", "2", "--total-gpus", "2", "--slots", str(slots), "--", "x"], env)
    time.sleep(1.0)
    second = _launch(["--gpus", "1", "--total-gpus", "2", "--slots", str(slots), "--", "y"],
                     {**probe_env, "PROBE_SLEEP": "0"})
    o1, o2 = first.communicate(timeout=60), second.communicate(timeout=60)
    assert _ranks(o1[0])[0]["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert _ranks(o2[0])[0]["CUDA_VISIBLE_DEVICES"] in ("0", "1") and time.monotonic() - t0 >= 3


def test_kept_devices_from_the_scheduler(probe_env: dict[str, str], tmp_path: Path) -> None:
    env = {**probe_env, "CUDA_VISIBLE_DEVICES": "3"}
    proc = _launch(["--gpus", "1", "--total-gpus", "4", "--slots", str(tmp_path), "--", "train"], env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert _ranks(out)[0]["CUDA_VISIBLE_DEVICES"] == "3" and not list(tmp_path.glob("*.lock"))


@pytest.mark.timeout(120)
def test_two_cpu_processes_go_through_torchrun(probe_env: dict[str, str]) -> None:
    proc = _launch(["--processes", "2", "--threads", "4", "--", "train", "--out", "o"], probe_env)
    out, err = proc.communicate(timeout=100)
    assert proc.returncode == 0, err[-2000:]
    ranks = sorted(_ranks(out), key=lambda r: r["RANK"])
    assert [(r["RANK"], r["WORLD_SIZE"], r["OMP_NUM_THREADS"]) for r in ranks] == [("0", "2", "2"), ("1", "2", "2")]
    assert ranks[0]["argv"] == ["train", "--out", "o", "--threads", "2"]
    assert ranks[0]["CUDA_VISIBLE_DEVICES"] is None


def test_nothing_to_launch_is_an_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "ems.launch", "--gpus", "1"], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 2 and "nothing to launch" in proc.stderr
