"""Resumable checkpoints with integrity: written atomically, a sha256 sidecar, verified before loading.

A checkpoint holds only tensors and plain Python values (model, optimiser, schedule, step,
sampler position, RNG states, history), so ``torch.load(weights_only=True)`` reads it.
Beside ``last.pt`` lies ``last.pt.json`` (sha256, size, the run identity, the step); the
checkpoint before it is kept as ``previous.pt``. A file whose sidecar is missing or does
not match is never loaded: :func:`find_resumable` names it, and :func:`move_aside` renames it
``<name>.corrupt-<time>`` with a warning, so the run goes on from the previous good one.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any

import torch

from ems.errors import DataError
from ems.io import atomic_path, read_json, sha256_file, write_json

logger = logging.getLogger(__name__)

LAST, PREVIOUS, BEST = "last.pt", "previous.pt", "best.pt"


def sidecar(path: str | os.PathLike[str]) -> Path:
    """``last.pt`` -> ``last.pt.json``: the checksum and identity of a checkpoint."""
    p = Path(path)
    return p.with_name(p.name + ".json")


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any], meta: dict[str, Any] | None = None,
                    previous: str | os.PathLike[str] | None = None) -> None:
    """Write ``state`` atomically, then its sidecar; with ``previous``, the old file moves there first."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
        record = {"sha256": sha256_file(tmp), "bytes": tmp.stat().st_size, **(meta or {})}
        if previous is not None and path.exists() and sidecar(path).exists():
            os.replace(path, previous)
            os.replace(sidecar(path), sidecar(previous))
    write_json(sidecar(path), record)


def verify(path: str | os.PathLike[str]) -> str | None:
    """None when ``path`` matches its sidecar, else why it cannot be trusted."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size == 0:
            return "empty file (0 bytes)"
        if not sidecar(p).exists():
            return f"no checksum file {sidecar(p).name}"
        record = read_json(sidecar(p))
        if int(record.get("bytes", -1)) != size:
            return f"{size} bytes, the checksum file says {record.get('bytes')}"
        if sha256_file(p) != record.get("sha256"):
            return "sha256 does not match its checksum file"
    except (OSError, ValueError) as exc:
        return f"unreadable: {exc}"
    return None


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint (verified first when it has a sidecar); DataError naming it if that fails."""
    if sidecar(path).exists() and (reason := verify(path)):
        raise DataError(f"checkpoint {path}: {reason}")
    try:
        return torch.load(Path(path), map_location=map_location, weights_only=True)
    except Exception as exc:
        raise DataError(f"cannot read checkpoint {path}: {exc or type(exc).__name__}") from exc


@dataclasses.dataclass(frozen=True)
class CheckpointScan:
    """What a checkpoint folder offers a run: the file to resume, and the unusable ones."""

    resumable: Path | None
    corrupt: tuple[tuple[Path, str], ...] = ()
    stale: tuple[Path, ...] = ()


def find_resumable(folder: str | os.PathLike[str], identity: dict[str, str]) -> CheckpointScan:
    """The newest verified checkpoint of ``identity`` in ``folder`` (``last.pt``, then ``previous.pt``).

    Reads only; the caller moves the corrupt files aside and removes the stale ones.
    """
    corrupt: list[tuple[Path, str]] = []
    stale: list[Path] = []
    for name in (LAST, PREVIOUS):
        path = Path(folder) / name
        if not path.exists():
            continue
        reason = verify(path)
        if reason:
            corrupt.append((path, reason))
        elif read_json(sidecar(path)).get("identity") != identity:
            stale.append(path)
        else:
            return CheckpointScan(path, tuple(corrupt), tuple(stale))
    return CheckpointScan(None, tuple(corrupt), tuple(stale))


def move_aside(path: Path, reason: str) -> Path:
    """Rename an unusable checkpoint (and its sidecar) out of the way, with a warning naming it."""
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
    os.replace(path, target)
    if sidecar(path).exists():
        os.replace(sidecar(path), sidecar(target))
    logger.warning("checkpoint %s is unusable (%s): moved aside to %s", path, reason, target.name)
    return target


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    sidecar(path).unlink(missing_ok=True)


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
