"""Atomic file output and small readers shared by all stages.

Every output is written to a temporary sibling and renamed into place, so a crash or a bad
input never leaves a partial file where Snakemake (or a user) would take it as complete.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import yaml

from ems.errors import DataError, OutputError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _tmp_sibling(path: Path, is_dir: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_dir:
        tmp_dir = tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.chmod(tmp_dir, 0o777 & ~_UMASK)
        return Path(tmp_dir)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(name, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual mode
    return Path(name)


#: Below this many free bytes a failed write is taken as a full disk (torch.save reports one
#: as a RuntimeError from its zip writer, not as ENOSPC).
LOW_SPACE_BYTES = 1 << 20


def disk_full_error(target: Path, exc: BaseException) -> OutputError | None:
    """An :class:`OutputError` naming ``target`` when ``exc`` came from a full disk, else None."""
    full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if not full and not isinstance(exc, OutputError):
        try:
            full = shutil.disk_usage(target.parent).free < LOW_SPACE_BYTES
        except OSError:
            full = False
    if not full:
        return None
    return OutputError(f"cannot write {target}: no space left on its file system (nothing was replaced; "
                       "free some space and rerun: the job resumes)")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary file path that replaces ``path`` only if the block succeeds."""
    target = Path(path)
    tmp = _tmp_sibling(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except (OSError, RuntimeError) as exc:
        raise disk_full_error(target, exc) or exc
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``path`` (whole) only if the block succeeds."""
    target = Path(path)
    tmp = _tmp_sibling(target, is_dir=True)
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except (OSError, RuntimeError) as exc:
        raise disk_full_error(target, exc) or exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open a temporary file for writing (gzip when the name ends in .gz); rename on success."""
    with atomic_path(path) as tmp:
        opener = gzip.open if str(path).endswith(".gz") else open
        if "b" not in mode:
            kwargs.setdefault("encoding", "utf-8")
            if opener is gzip.open:
                mode = mode + "t" if "t" not in mode else mode
        with opener(tmp, mode, **kwargs) as fh:
            yield fh


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write JSON atomically, pretty-printed and key-sorted for stable diffs."""
    with atomic_open(path) as fh:
        json.dump(data, fh, indent=2, sort_keys=True, ensure_ascii=False, default=str)
        fh.write("\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def read_json_input(path: str | os.PathLike[str], name: str | None = None, hint: str = "") -> Any:
    """:func:`read_json` of a user-given input: a missing or unparsable file is a one-line
    :class:`DataError` naming it (``name``, default the path; ``hint`` follows "not found")."""
    name = name or str(path)
    try:
        return read_json(path)
    except FileNotFoundError as exc:
        raise DataError(f"{name}: file not found{hint}") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{name}: not a JSON file ({' '.join(str(exc).split())})") from exc


def write_yaml(path: str | os.PathLike[str], data: Any) -> None:
    with atomic_open(path) as fh:
        yaml.safe_dump(data, fh, sort_keys=False, allow_unicode=True)


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def stable_hash(data: Any, length: int = 12) -> str:
    """Short sha256 of a JSON-serialisable object (key order does not matter)."""
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]
