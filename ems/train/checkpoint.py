"""Resumable checkpoints: written atomically, read with ``torch.load(weights_only=True)``.

A checkpoint holds only tensors and plain Python values (model, optimiser, schedule, step,
sampler position, RNG states, history), so the safe loader reads it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from ems.errors import DataError
from ems.io import atomic_path

logger = logging.getLogger(__name__)


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    try:
        return torch.load(Path(path), map_location=map_location, weights_only=True)
    except Exception as exc:
        raise DataError(f"cannot read checkpoint {path}: {exc}") from exc


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
