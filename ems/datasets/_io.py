"""Strict line readers shared by the evaluation-set readers (and the parser of ``ems.data``).

Lines are split on ``\\n`` only (so U+2028 and friends inside a sentence stay put) and decoded
strictly as UTF-8; a bad byte is a :class:`~ems.errors.DataError` naming file and line.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ems.errors import DataError

logger = logging.getLogger(__name__)


def read_lines(path: str | os.PathLike[str]) -> list[str]:
    """All lines of a UTF-8 text file, without their line ends (``\\r\\n`` or ``\\n``)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise DataError(f"{path}: file not found") from exc
    if not data:
        return []
    raw = data.split(b"\n")
    if raw[-1] == b"":
        raw.pop()
    if data.startswith(b"\xef\xbb\xbf"):
        raw[0] = raw[0][3:]
    try:
        return [line.decode("utf-8").rstrip("\r") for line in raw]
    except UnicodeDecodeError:
        for number, line in enumerate(raw, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path}, line {number}: not valid UTF-8 ({exc.reason} at byte {exc.start}: "
                    f"{line[max(0, exc.start - 10):exc.end + 10]!r})"
                ) from exc
        raise


def read_parallel(xx_path: str | os.PathLike[str], eng_path: str | os.PathLike[str]) -> tuple[list[str], list[str]]:
    """Two line-aligned files; differing line counts are a DataError naming both."""
    xx, eng = read_lines(xx_path), read_lines(eng_path)
    if len(xx) != len(eng):
        raise DataError(
            f"ragged parallel files: {xx_path} has {len(xx)} lines but {eng_path} has {len(eng)} lines"
        )
    return xx, eng


def locate(source_dir: str | os.PathLike[str], rel: str, probe: str) -> Path:
    """The folder ``source_dir/rel`` (an extracted archive), or ``source_dir`` itself when it
    already is that folder (it contains ``probe``, a glob)."""
    root = Path(source_dir)
    for cand in (root / rel, root):
        if cand.is_dir() and any(cand.glob(probe)):
            return cand
    raise DataError(
        f"{root}: expected the extracted archive (with {rel}/{probe}) or that folder itself; "
        "run the fetch step (snakemake ... fetch) first"
    )
