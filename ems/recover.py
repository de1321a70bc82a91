"""``ems recover -- <snakemake arguments>``: the one command after a killed run (docs/training.md).

A Snakemake killed with ``kill -9`` (or a lost login session, an out-of-memory kill of the whole
group) leaves its lock in ``.snakemake/locks`` and its running jobs incomplete; a plain rerun
stops with ``LockException``, and a rerun job's log replaces the killed attempt's. This command:

1. refuses when a Snakemake still runs in this folder (its lock is not stale);
2. removes the stale lock (``snakemake --unlock``);
3. keeps the logs of the jobs that will run again: ``<log>`` becomes ``<log>.attempt-<time>``
   (the jobs and their logs come from a dry run);
4. runs ``snakemake --rerun-incomplete`` with the same arguments: trainings resume from their
   checkpoints (tests/test_workflow.py, the fault drill).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ems.errors import ConfigError

logger = logging.getLogger(__name__)

_LOG_LINE = re.compile(r"^\s+log: (?P<logs>.+)$")


def running_snakemake(folder: Path) -> list[int]:
    """PIDs of other Snakemake processes whose working folder is ``folder`` (Linux ``/proc``)."""
    out = []
    for proc in Path("/proc").glob("[0-9]*"):
        pid = int(proc.name)
        if pid == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = Path(os.readlink(proc / "cwd"))
        except OSError:
            continue
        is_snakemake = any(part.endswith(b"snakemake") for part in cmdline[:3]) or b"snakemake" in cmdline[1:3]
        if is_snakemake and b"--unlock" not in cmdline and cwd == folder:
            out.append(pid)
    return out


def logs_to_rerun(dry_run_output: str) -> list[Path]:
    """The log files named in a ``snakemake -n`` listing (the jobs that will run)."""
    logs = []
    for line in dry_run_output.splitlines():
        match = _LOG_LINE.match(line)
        if match:
            logs += [Path(p.strip()) for p in match["logs"].split(", ") if p.strip()]
    return logs


def rotate(log: Path) -> Path | None:
    """``log`` renamed to ``<log>.attempt-<its mtime>`` (a number added if taken); None when absent."""
    if not log.is_file():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(log.stat().st_mtime))
    target = log.with_name(f"{log.name}.attempt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = log.with_name(f"{log.name}.attempt-{stamp}-{n}")
    log.rename(target)
    return target


def _snakemake(args: Sequence[str], capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", *args], check=False, text=True,
                          capture_output=capture)


def recover(snakemake_args: Sequence[str], folder: Path | None = None) -> int:
    """Unlock, keep the logs of the jobs to rerun, rerun with ``--rerun-incomplete``; Snakemake's exit status."""
    folder = (folder or Path.cwd()).resolve()
    others = running_snakemake(folder)
    if others:
        raise ConfigError(f"Snakemake (PID {', '.join(map(str, others))}) still runs in {folder}: its lock is not "
                          "stale; wait for it, or stop it (kill -TERM <pid>) and run ems recover again")
    args = [a for a in snakemake_args if a != "--rerun-incomplete"]
    if any((folder / ".snakemake" / "locks").glob("*")):
        unlock = _snakemake([*args, "--unlock"], capture=True)
        if unlock.returncode != 0:
            sys.stderr.write(unlock.stderr[-3000:])
            raise ConfigError("snakemake --unlock failed (above); check the arguments after --")
        logger.info("removed the stale lock of %s", folder)
    plan = _snakemake([*args, "--rerun-incomplete", "--dry-run"], capture=True)
    if plan.returncode != 0:
        sys.stderr.write(plan.stderr[-3000:])
        raise ConfigError("the dry run failed (above); check the arguments after --")
    kept = [str(p) for p in (rotate(folder / log) for log in logs_to_rerun(plan.stdout)) if p is not None]
    for path in kept:
        logger.info("kept the log of the killed attempt: %s", path)
    logger.info("rerunning: snakemake --rerun-incomplete %s", " ".join(args))
    return _snakemake([*args, "--rerun-incomplete"]).returncode


def _run(args: argparse.Namespace) -> int:
    rest = list(args.snakemake_args)
    return recover(rest[1:] if rest[:1] == ["--"] else rest)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("recover", help="after a killed run: unlock, keep the killed jobs' logs, rerun "
                                              "(ems recover -- --cores all --configfile ...)")
    p.add_argument("snakemake_args", nargs=argparse.REMAINDER, help="the arguments of the killed snakemake run")
    p.set_defaults(func=_run)
