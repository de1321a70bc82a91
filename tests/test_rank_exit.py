"""A torchrun rank cannot hang after its work is done (pytorch#75097); a hung launcher tree is killed whole in tests."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest
import torch.distributed as dist
from _bounded import run_bounded

from ems.train import distributed
from ems.train.distributed import DistInfo, shutdown

# a non-daemon thread that never ends: a normal interpreter exit waits on it forever, as on a hung teardown
STUCK_THREAD = "import threading; threading.Thread(target=threading.Event().wait, daemon=False).start()\n"


@pytest.mark.timeout(60)
def test_a_hung_destroy_is_left_behind_after_the_grace(monkeypatch, caplog) -> None:
    released = threading.Event()
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "destroy_process_group", released.wait)  # never returns until released
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING, logger=distributed.__name__):
        shutdown(DistInfo(rank=1, world_size=2, initialised_here=True), grace_s=0.5)
    assert 0.4 < time.monotonic() - t0 < 10
    assert "rank 1: destroy_process_group still running after 0 s" in caplog.text and "pytorch#75097" in caplog.text
    released.set()


def test_a_destroy_that_returns_is_waited_for_and_quiet(monkeypatch, caplog) -> None:
    calls: list[str] = []
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "destroy_process_group", lambda: (time.sleep(0.2), calls.append("destroyed")))
    with caplog.at_level(logging.WARNING, logger=distributed.__name__):
        shutdown(DistInfo(rank=0, world_size=2, initialised_here=True), grace_s=30)
    assert calls == ["destroyed"] and "still running" not in caplog.text
    shutdown(DistInfo(rank=0, world_size=2, initialised_here=False))  # a group someone else made: left alone
    assert calls == ["destroyed"]


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter with buffered stdout (as under torchrun without PYTHONUNBUFFERED)."""
    base = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60,
                          env={**base, **(env or {})})


@pytest.mark.timeout(90)
def test_exit_now_ends_the_process_with_its_status_and_flushed_logs() -> None:
    proc = _python(STUCK_THREAD + textwrap.dedent("""
        import logging, sys
        logging.basicConfig()
        logging.getLogger("rank").warning("outputs written")
        sys.stdout.write("unflushed stdout")
        from ems.train.distributed import exit_now
        exit_now(3)
    """))
    assert proc.returncode == 3
    assert proc.stdout == "unflushed stdout" and "outputs written" in proc.stderr


@pytest.mark.timeout(90)
def test_the_train_command_of_a_torchrun_rank_exits_without_teardown(tmp_path) -> None:
    """WORLD_SIZE > 1: ``ems train`` ends with its status even when something would hold interpreter exit."""
    code = STUCK_THREAD + textwrap.dedent(f"""
        from ems.cli import main
        main(["train", "--shards", {str(tmp_path / "none")!r}, "--valid", {str(tmp_path / "none")!r},
              "--tokenizer", {str(tmp_path / "none")!r}, "--out", {str(tmp_path / "out")!r}, "--settings", "{{}}"])
    """)
    proc = _python(code, {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"})
    assert proc.returncode == 2, proc.stderr
    assert "ems train: error:" in proc.stderr and not (tmp_path / "out").exists()


@pytest.mark.timeout(90)
def test_bounded_run_kills_workers_in_their_own_sessions(tmp_path) -> None:
    pid_file = tmp_path / "worker.pid"
    launcher = textwrap.dedent(f"""
        import subprocess, sys, time
        w = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
        open({str(pid_file)!r}, "w").write(str(w.pid))
        w.wait()
    """)
    with pytest.raises(pytest.fail.Exception, match="still ran after 3 s"):
        run_bounded([sys.executable, "-c", launcher], dict(os.environ), timeout=3)
    worker = int(pid_file.read_text())
    assert not psutil.pid_exists(worker) or psutil.Process(worker).status() == psutil.STATUS_ZOMBIE
