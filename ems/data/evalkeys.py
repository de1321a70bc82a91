"""The evaluation sets as one sorted file of 64-bit keys, built once and shared by every language job.

Every sentence of every enabled evaluation set (both sides, every language; see
:mod:`ems.data.decontaminate`) is reduced to its match key (normalised, case-folded) and
hashed; ``keys.npy`` is the sorted ``uint64`` array, ``sets.npy`` the index (into
``sets.json``) of the first set that holds each key, which attributes removals as before.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ems.data.decontaminate import evaluation_keys
from ems.data.hashing import keys64, positions
from ems.errors import DataError
from ems.io import atomic_dir, read_json, write_json

logger = logging.getLogger(__name__)


@dataclass
class EvalKeys:
    """Sorted keys, the set index of each, and the set names in attribution order."""

    keys: np.ndarray
    sets: np.ndarray
    names: list[str]

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Set index of each key, -1 where no evaluation set holds it."""
        out = np.full(len(keys), -1, dtype=np.int16)
        pos, hit = positions(self.keys, keys)
        out[hit] = self.sets[pos[hit]]
        return out


def build_eval_keys(settings: Mapping[str, Any], sources: Mapping[str, str | os.PathLike[str] | None]) -> EvalKeys:
    """Keys of every enabled evaluation set (settings: decontamination, mining, evaluation sections)."""
    extra = (settings.get("evaluation") or {}).get("extra_datasets") or []
    text_keys = evaluation_keys(settings["decontamination"], sources,
                                settings.get("mining", {}).get("languages", {}), extra)
    names = list(dict.fromkeys(text_keys.values()))
    index = {name: i for i, name in enumerate(names)}
    keys = keys64(text_keys)
    sets = np.fromiter((index[s] for s in text_keys.values()), dtype=np.int16, count=len(text_keys))
    order = np.argsort(keys, kind="stable")
    keys, sets = keys[order], sets[order]
    # A 64-bit collision between two different evaluation sentences keeps the first set.
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return EvalKeys(keys[first], sets[first], names)


def save_eval_keys(keys: EvalKeys, out_dir: str | os.PathLike[str]) -> None:
    with atomic_dir(out_dir) as tmp:
        np.save(tmp / "keys.npy", keys.keys)
        np.save(tmp / "sets.npy", keys.sets)
        write_json(tmp / "sets.json", {"sets": keys.names, "keys": len(keys.keys),
                                       "per_set": {n: int((keys.sets == i).sum()) for i, n in enumerate(keys.names)}})
    logger.info("evaluation keys: %d over sets %s -> %s", len(keys.keys), keys.names, out_dir)


def load_eval_keys(path: str | os.PathLike[str]) -> EvalKeys:
    path = Path(path)
    try:
        meta = read_json(path / "sets.json")
        return EvalKeys(np.load(path / "keys.npy"), np.load(path / "sets.npy"), list(meta["sets"]))
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{path}: not an evaluation key folder ({exc}); rerun the eval_keys step") from None
