"""Token shards (docs/interfaces.md, "Token shards") as padded tensors for the trainer.

Arrays are memory-mapped; a batch is gathered and padded with vectorised numpy indexing.
Uses ``ems.data.shards.load_shards`` when the data stage provides it, else reads the
documented files directly (same format, same checks).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ems.errors import DataError
from ems.io import read_json

logger = logging.getLogger(__name__)

META_KEYS = ("n_pairs", "languages", "vocab_size", "pad_id", "max_length", "content_sha256")


@dataclass
class Side:
    ids: np.ndarray  # int32 (total tokens,)
    offsets: np.ndarray  # int64 (n + 1,)
    lang: np.ndarray  # int16 (n,)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


@dataclass
class PairShards:
    src: Side
    tgt: Side
    meta: dict[str, Any]
    path: Path

    def __len__(self) -> int:
        return int(self.meta["n_pairs"])

    @property
    def languages(self) -> list[str]:
        return list(self.meta["languages"])


def _load_array(path: Path, dtype: str) -> np.ndarray:
    if not path.exists():
        raise DataError(f"missing shard file {path}")
    arr = np.load(path, mmap_mode="r")
    if arr.dtype != np.dtype(dtype) or arr.ndim != 1:
        raise DataError(f"{path}: expected a 1-d {dtype} array, found {arr.ndim}-d {arr.dtype}")
    return arr


def _read_side(directory: Path, side: str, n: int, vocab: int) -> Side:
    s = Side(
        _load_array(directory / f"{side}.ids.npy", "int32"),
        _load_array(directory / f"{side}.offsets.npy", "int64"),
        _load_array(directory / f"{side}.lang.npy", "int16"),
    )
    if s.offsets.shape[0] != n + 1 or s.lang.shape[0] != n:
        raise DataError(f"{directory}/{side}.*: sizes do not match n_pairs={n}")
    if s.offsets[0] != 0 or s.offsets[-1] != s.ids.shape[0] or (np.diff(s.offsets) <= 0).any():
        raise DataError(f"{directory}/{side}.offsets.npy: offsets must start at 0, end at len(ids), and have no empty sentence")
    return s


def _from_data_stage(directory: Path) -> PairShards | None:
    """Memory-map through the data stage's ``load_shards`` (None when that module is absent)."""
    try:
        from ems.data.shards import load_shards
    except ImportError:
        return None
    sh = load_shards(directory)
    sides = [Side(getattr(sh, f"{s}_ids"), getattr(sh, f"{s}_offsets"), getattr(sh, f"{s}_lang")) for s in ("src", "tgt")]
    return PairShards(sides[0], sides[1], dict(sh.meta), Path(directory))


def _check(shards: PairShards) -> PairShards:
    meta_path = shards.path / "meta.json"
    missing = [k for k in META_KEYS if k not in shards.meta]
    if missing:
        raise DataError(f"{meta_path}: missing key(s) {', '.join(missing)}")
    n = len(shards)
    for name, side in (("src", shards.src), ("tgt", shards.tgt)):
        where = f"{shards.path}/{name}.*.npy"
        if side.offsets.shape[0] != n + 1 or side.lang.shape[0] != n:
            raise DataError(f"{where}: sizes do not match n_pairs={n}")
        if side.offsets[0] != 0 or side.offsets[-1] != side.ids.shape[0] or (np.diff(side.offsets) <= 0).any():
            raise DataError(f"{where}: offsets must start at 0, end at len(ids), and have no empty sentence")
        if side.ids.dtype != np.int32 or side.offsets.dtype != np.int64 or side.lang.dtype != np.int16:
            raise DataError(f"{where}: dtypes must be int32 ids, int64 offsets, int16 lang")
    return shards


def load_pair_shards(directory: str | Path) -> PairShards:
    """Load a ``shards/<split>/`` folder; DataError names the file when anything is off."""
    directory = Path(directory)
    via_data_stage = _from_data_stage(directory)
    if via_data_stage is not None:
        return _check(via_data_stage)
    meta_path = directory / "meta.json"
    if not meta_path.exists():
        raise DataError(f"{meta_path} not found (is {directory} a shard folder?)")
    meta = read_json(meta_path)
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise DataError(f"{meta_path}: missing key(s) {', '.join(missing)}")
    n, vocab = int(meta["n_pairs"]), int(meta["vocab_size"])
    src = _read_side(directory, "src", n, vocab)
    tgt = _read_side(directory, "tgt", n, vocab)
    return PairShards(src, tgt, meta, directory)


def pad_batch(side: Side, index: np.ndarray, pad_id: int, max_length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded ids (B, L) int64 and mask (B, L) for the sentences ``index`` of one side."""
    starts = side.offsets[index]
    lengths = side.offsets[index + 1] - starts
    if max_length is not None:
        lengths = np.minimum(lengths, max_length)
    width = int(lengths.max())
    pos = np.arange(width)[None, :]
    mask = pos < lengths[:, None]
    flat = np.where(mask, starts[:, None] + pos, 0)
    ids = np.where(mask, np.asarray(side.ids[flat.ravel()]).reshape(flat.shape), pad_id)
    return torch.from_numpy(ids.astype(np.int64)), torch.from_numpy(mask.astype(np.int64))


def collate(shards: PairShards, index: np.ndarray, max_length: int | None = None) -> dict[str, torch.Tensor]:
    """One batch of pairs as tensors: src/tgt ids, masks and language indices."""
    index = np.asarray(index, dtype=np.int64)
    pad = int(shards.meta["pad_id"])
    src_ids, src_mask = pad_batch(shards.src, index, pad, max_length)
    tgt_ids, tgt_mask = pad_batch(shards.tgt, index, pad, max_length)
    return {
        "src_ids": src_ids,
        "src_mask": src_mask,
        "tgt_ids": tgt_ids,
        "tgt_mask": tgt_mask,
        "src_lang": torch.from_numpy(np.asarray(shards.src.lang[index]).astype(np.int64)),
        "tgt_lang": torch.from_numpy(np.asarray(shards.tgt.lang[index]).astype(np.int64)),
    }
