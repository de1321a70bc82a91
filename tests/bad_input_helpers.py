"""Shared helpers of the bad-input catalogues (tests/test_bad_input*.py).

A bad input must end the real CLI with exit status 2 and ONE error line
(``ems <command>: error: ...``) that names the culprit (file, line or key), no traceback,
and nothing left in the output folder (no partial file, no empty folder).

    proc = run_cli(["clean", "--input", str(bad), "--out", str(out / "c.tsv.gz"), ...], cwd=tmp_path)
    assert_clean_failure(proc, culprit=str(bad), folder=out)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: The environment every CLI run of the catalogue gets (RULES.md: offline, no telemetry).
QUIET_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "HF_HUB_OFFLINE": "1",
    "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1",
}

_ERROR_LINE = re.compile(r"^ems [\w-]+: error: ")


def run_cli(args: Sequence[str], cwd: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None,
            stdin: bytes | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m ems.cli ARGS`` (the real command) and capture its output as text."""
    full_env = {**os.environ, **QUIET_ENV, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), full_env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([sys.executable, "-m", "ems.cli", *map(str, args)], check=False, cwd=cwd, env=full_env,
                          input=stdin if stdin is not None else b"", capture_output=True, timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode,
                                       proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


def snapshot(folder: str | os.PathLike[str]) -> frozenset[str]:
    """Every entry (files and folders) under ``folder``, relative; empty if it does not exist."""
    root = Path(folder)
    if not root.exists():
        return frozenset()
    return frozenset(p.relative_to(root).as_posix() for p in root.rglob("*"))


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    """The ``ems <command>: error:`` lines of stderr."""
    return [line for line in proc.stderr.splitlines() if _ERROR_LINE.match(line)]


def assert_clean_failure(proc: subprocess.CompletedProcess, culprit: str | re.Pattern[str] | Sequence[str],
                         folder: str | os.PathLike[str] | None = None, before: frozenset[str] = frozenset()) -> str:
    """Exit 2, one error line naming ``culprit`` (substring, regex, or all of several), no traceback,
    and ``folder`` holding nothing new compared with ``before`` (a :func:`snapshot`). Returns the line."""
    detail = f"\n--- rc={proc.returncode}\n--- stderr:\n{proc.stderr[-4000:]}\n--- stdout:\n{proc.stdout[-2000:]}"
    assert "Traceback (most recent call last)" not in proc.stderr, "traceback instead of an error" + detail
    assert proc.returncode == 2, "exit status is not 2" + detail
    lines = error_lines(proc)
    assert len(lines) == 1, f"expected exactly one 'ems <command>: error:' line, got {len(lines)}" + detail
    line = lines[0]
    culprits = [culprit] if isinstance(culprit, (str, re.Pattern)) else list(culprit)
    for item in culprits:
        if isinstance(item, re.Pattern):
            assert item.search(line), f"error line does not match {item.pattern!r}: {line}" + detail
        else:
            assert item in line, f"error line does not name {item!r}: {line}" + detail
    if folder is not None:
        left = sorted(snapshot(folder) - before)
        assert not left, f"left behind in {folder}: {left}" + detail
    return line
