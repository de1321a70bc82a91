"""Run a command that starts ``torchrun`` with a time limit; on a hang, show who hung and kill every process.

torchrun puts each worker in a session of its own, so killing the launcher's process group leaves the
workers alive, holding the pipes open. Here every descendant is found (psutil) and killed; Python ones are
first sent SIGABRT so that faulthandler (``PYTHONFAULTHANDLER=1``) prints their stacks into the captured stderr.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil
import pytest


def run_bounded(cmd: Sequence[str], env: Mapping[str, str], timeout: float,
                cwd: str | os.PathLike[str] | None = None) -> subprocess.CompletedProcess:
    """``cmd``'s result; ``pytest.fail`` with the process tree and the tail of stderr when it outlives ``timeout``."""
    env = {**env, "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        root = psutil.Process(proc.pid)
        tree = [root, *root.children(recursive=True)]
        alive = []
        for p in tree:
            try:
                alive.append(f"{p.pid} {p.status()} {' '.join(p.cmdline()[:6])}")
                if p.pid != proc.pid and "python" in Path(p.exe()).name:
                    p.send_signal(signal.SIGABRT)  # faulthandler prints its stacks
            except psutil.Error:
                pass
        time.sleep(2)
        for p in tree:
            try:
                p.kill()
            except psutil.Error:
                pass
        out, err = proc.communicate(timeout=30)
        pytest.fail(f"{list(cmd)[:4]} still ran after {timeout:.0f} s; processes:\n" + "\n".join(alive)
                    + f"\nstderr tail:\n{err[-5000:]}")
    return subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)
