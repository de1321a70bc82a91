"""``ems recover``: refuses a live run, keeps the logs of the jobs to rerun (the drill is in test_workflow.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ems.errors import ConfigError
from ems.recover import logs_to_rerun, recover, rotate, running_snakemake

DRY_RUN = """
rule train:
    input: results/x/shards/train
    output: results/x/models/a/seed1/model
    log: logs/x/train/a/seed1.log
    jobid: 3
rule evaluate:
    output: results/x/eval/a/tatoeba.csv, results/x/eval/a/tatoeba.json
    log: logs/x/evaluate/a/tatoeba.log, logs/x/evaluate/a/extra.log
"""


def test_logs_of_the_dry_run_are_found() -> None:
    assert logs_to_rerun(DRY_RUN) == [Path("logs/x/train/a/seed1.log"), Path("logs/x/evaluate/a/tatoeba.log"),
                                      Path("logs/x/evaluate/a/extra.log")]


def test_rotate_keeps_every_attempt(tmp_path: Path) -> None:
    log = tmp_path / "seed1.log"
    assert rotate(log) is None
    log.write_text("first")
    first = rotate(log)
    log.write_text("second")
    os.utime(log, (first.stat().st_mtime, first.stat().st_mtime))  # same second: a suffix, not an overwrite
    second = rotate(log)
    assert not log.exists() and first != second
    assert first.read_text() == "first" and second.read_text() == "second" and ".attempt-" in second.name


def test_refuses_while_snakemake_runs_in_the_folder(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "snakemake"
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    fake.chmod(0o755)
    proc = subprocess.Popen([str(fake)], cwd=tmp_path)
    try:
        for _ in range(50):
            if proc.pid in running_snakemake(tmp_path.resolve()):
                break
            time.sleep(0.1)
        with pytest.raises(ConfigError, match=rf"PID {proc.pid}\b.*still runs"):
            recover(["--cores", "1"], folder=tmp_path)
    finally:
        proc.kill()
        proc.wait()
    assert proc.pid not in running_snakemake(tmp_path.resolve())
