"""Launch one training job: ``torchrun`` for more than one GPU or CPU process, else directly; own GPUs.

Snakemake caps how many ``gpu`` units run at once but assigns no ``CUDA_VISIBLE_DEVICES``;
on one multi-GPU machine, parallel one-GPU jobs would all land on device 0. The launcher
claims free devices through lock files (one per device, ``fcntl.flock``: the kernel
releases them when the job dies, even on SIGKILL), sets ``CUDA_VISIBLE_DEVICES`` for the
job, and holds them until it exits. Where devices are already assigned (SLURM's
``--gpus``, or the user's own ``CUDA_VISIBLE_DEVICES``), it keeps them.

    python -m ems.launch --gpus 2 --threads 16 -- train --shards ... --out ...

runs ``python -m torch.distributed.run --standalone --nproc-per-node 2 -m ems.cli train ...
--threads 8``; ``--gpus 0 --processes 2`` does the same with 2 gloo processes on the CPU.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

SLOTS_ENV = "EMS_GPU_SLOTS"


def process_count(gpus: int, processes: int) -> int:
    """Ranks of the job: one per GPU when it has GPUs, else ``processes`` CPU (gloo) ranks."""
    if gpus < 0 or processes < 0:
        raise ValueError(f"gpus ({gpus}) and processes ({processes}) must be >= 0")
    if gpus >= 1:
        return gpus
    return max(processes, 1)


def launch_command(nproc: int, args: Sequence[str], module: str = "ems.cli", python: str = sys.executable) -> list[str]:
    """``python -m <module> args`` for one rank; ``torchrun --standalone`` for several.

    ``--standalone`` picks a free rendezvous port, so parallel jobs on one machine do not meet.
    """
    if nproc <= 1:
        return [python, "-m", module, *args]
    return [python, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", "-m", module, *args]


def threads_per_process(threads: int, nproc: int) -> int:
    """The job's CPU threads shared out between its ranks (at least 1 each)."""
    return max(1, threads // max(nproc, 1))


def assigned_devices(env: Mapping[str, str]) -> list[str] | None:
    """Devices the scheduler or the user already gave the job (``CUDA_VISIBLE_DEVICES``), else None."""
    value = env.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    return [d for d in value.split(",") if d.strip()]


def default_slot_dir() -> Path:
    """``$EMS_GPU_SLOTS``, else one folder per user under the temp dir (shared by all runs on the machine)."""
    return Path(os.environ.get(SLOTS_ENV) or Path(tempfile.gettempdir()) / f"ems-gpu-slots-{os.getuid()}")


def visible_gpu_count() -> int:
    """GPUs this machine shows (0 without CUDA)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@dataclass
class DeviceClaim:
    """GPUs claimed for one job; the locks hold until :meth:`release` or the process ends."""

    devices: list[int]
    _handles: list[IO[bytes]] = field(default_factory=list, repr=False)

    def release(self) -> None:
        for fh in self._handles:
            fh.close()  # closing the file drops its flock
        self._handles.clear()


def _try_lock(path: Path) -> IO[bytes] | None:
    fh = open(path, "ab")  # noqa: SIM115 (kept open while the lock is held)
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        fh.close()
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return None
        raise
    return fh


def claim_devices(n: int, total: int, slot_dir: str | os.PathLike[str], timeout: float = 3600.0,
                  poll: float = 1.0) -> DeviceClaim:
    """Claim ``n`` of the ``total`` devices (lowest free first), waiting up to ``timeout`` s for them."""
    if n > total:
        raise ValueError(f"the job asks for {n} GPUs but this machine has {total}")
    folder = Path(slot_dir)
    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    while True:
        handles: list[IO[bytes]] = []
        devices: list[int] = []
        for d in range(total):
            fh = _try_lock(folder / f"gpu{d}.lock")
            if fh is not None:
                handles.append(fh)
                devices.append(d)
                if len(devices) == n:
                    return DeviceClaim(devices, handles)
        for fh in handles:  # not enough free: give back what we took, so two waiters cannot deadlock
            fh.close()
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {n} free GPU(s) of {total} within {timeout:.0f} s (locks in {folder})")
        time.sleep(poll)


def plan(gpus: int, processes: int, threads: int, args: Sequence[str], env: Mapping[str, str],
         total_gpus: int | None = None, module: str = "ems.cli") -> dict:
    """What :func:`main` runs: ranks, command, environment changes, and how many devices to claim."""
    nproc = process_count(gpus, processes)
    child_args = list(args)
    env_changes: dict[str, str] = {}
    if threads:
        per = threads_per_process(threads, nproc)
        child_args += ["--threads", str(per)]
        env_changes["OMP_NUM_THREADS"] = str(per)
    claim = 0
    if gpus >= 1 and assigned_devices(env) is None:
        total = total_gpus = visible_gpu_count() if total_gpus is None else total_gpus
        if total == 0:
            logger.warning("the job asks for %d GPU(s) but none is visible: running on the CPU", gpus)
        elif gpus > total:
            raise ValueError(f"the job asks for {gpus} GPUs but this machine shows {total}")
        else:
            claim = gpus
    return {"nproc": nproc, "command": launch_command(nproc, child_args, module), "env": env_changes,
            "claim": claim, "total_gpus": total_gpus}


def _run(cmd: list[str], env: dict[str, str]) -> int:
    """Run ``cmd``; SIGTERM/SIGINT to the launcher go to it (Snakemake cancelling a job)."""
    proc = subprocess.Popen(cmd, env=env)

    def forward(signum, _frame):
        if proc.poll() is None:
            proc.send_signal(signum)

    old = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ems.launch", description=__doc__.split("\n\n")[0])
    p.add_argument("--gpus", type=int, default=0, help="GPUs of the job (Snakemake's resources.gpu)")
    p.add_argument("--processes", type=int, default=1, help="CPU ranks when the job has no GPU (gloo)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads of the job, shared out between ranks")
    p.add_argument("--total-gpus", type=int, default=None, help="GPUs of this machine (default: as CUDA sees them)")
    p.add_argument("--slots", default=None, help=f"folder of the device lock files (default ${SLOTS_ENV} or a temp folder)")
    p.add_argument("--wait", type=float, default=3600.0, help="seconds to wait for free devices")
    p.add_argument("--module", default="ems.cli", help=argparse.SUPPRESS)
    p.add_argument("--print-plan", action="store_true", help="print the plan as JSON and exit")
    p.add_argument("args", nargs=argparse.REMAINDER, help="-- then the arguments of `ems` (e.g. train ...)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    a = build_parser().parse_args(argv)
    args = a.args[1:] if a.args[:1] == ["--"] else a.args
    if not args:
        print("error: nothing to launch: give `-- <ems arguments>`", file=sys.stderr)
        return 2
    try:
        p = plan(a.gpus, a.processes, a.threads, args, os.environ, a.total_gpus, a.module)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if a.print_plan:
        print(json.dumps(p))
        return 0
    env = {**os.environ, **p["env"]}
    claim = None
    if p["claim"]:
        total = p["total_gpus"]
        try:
            claim = claim_devices(p["claim"], total, a.slots or default_slot_dir(), timeout=a.wait)
        except (TimeoutError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, claim.devices))
        logger.info("GPU(s) %s of %d for this job", env["CUDA_VISIBLE_DEVICES"], total)
    logger.info("%d rank(s): %s", p["nproc"], " ".join(p["command"][:8]) + " ...")
    try:
        return _run(p["command"], env)
    finally:
        if claim is not None:
            claim.release()


if __name__ == "__main__":
    raise SystemExit(main())
