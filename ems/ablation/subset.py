"""Deterministic training-data subsets for the ``data_fraction`` ablation factor.

Writes a shard folder (same format as ``shards/train``, see docs/interfaces.md) holding a
fixed, per-language stratified fraction of the pairs, so the trainer needs no knowledge
of the factor: a variant with fraction < 1 simply reads ``shards/train-frac<f>/``. The
subset depends only on the source shards, the fraction and the seed (not on the training
seed), and smaller fractions are nested in larger ones (same random order, prefix cut).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from ems.errors import DataError
from ems.io import atomic_dir, read_json

logger = logging.getLogger(__name__)

SIDES = ("src", "tgt")


def _load(path: Path, name: str) -> np.ndarray:
    f = path / name
    if not f.exists():
        raise DataError(f"shard file missing: {f}")
    return np.load(f, mmap_mode="r")


def select_pairs(langs: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a stratified ``fraction`` of pairs (at least one per language)."""
    if not 0 < fraction <= 1:
        raise DataError(f"data fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(langs))
    keep: list[np.ndarray] = []
    ordered_langs = np.asarray(langs)[order]
    for lang in np.unique(ordered_langs):
        members = order[ordered_langs == lang]  # this language's pairs in random order
        k = max(1, round(fraction * len(members)))
        keep.append(members[:k])
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)


def _gather(ids: np.ndarray, offsets: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lengths = (offsets[1:] - offsets[:-1])[index]
    new_offsets = np.zeros(len(index) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    pieces = [ids[offsets[i]:offsets[i + 1]] for i in index]
    new_ids = np.concatenate(pieces).astype(np.int32) if pieces else np.zeros(0, dtype=np.int32)
    return new_ids, new_offsets


def content_sha256(folder: Path) -> str:
    """sha256 over the shard arrays in a fixed order (file name + raw bytes)."""
    h = hashlib.sha256()
    for side in SIDES:
        for kind in ("ids", "offsets", "lang"):
            name = f"{side}.{kind}.npy"
            arr = np.load(folder / name)
            h.update(name.encode())
            h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def subset_shards(src: str | os.PathLike[str], dst: str | os.PathLike[str], fraction: float, seed: int) -> dict:
    """Write the subset of shard folder ``src`` to ``dst`` (atomically); return its meta."""
    src_p, dst_p = Path(src), Path(dst)
    meta_file = src_p / "meta.json"
    if not meta_file.exists():
        raise DataError(f"shard folder {src_p} has no meta.json")
    meta = read_json(meta_file)
    langs = np.asarray(_load(src_p, "src.lang.npy"))
    n = int(meta.get("n_pairs", len(langs)))
    if n != len(langs):
        raise DataError(f"{meta_file}: n_pairs={n} but src.lang.npy has {len(langs)} rows")
    index = select_pairs(langs, fraction, seed)
    with atomic_dir(dst_p) as tmp:
        for side in SIDES:
            ids = _load(src_p, f"{side}.ids.npy")
            offsets = np.asarray(_load(src_p, f"{side}.offsets.npy"))
            if len(offsets) != n + 1:
                raise DataError(f"{src_p / (side + '.offsets.npy')}: expected {n + 1} offsets, found {len(offsets)}")
            new_ids, new_offsets = _gather(ids, offsets, index)
            np.save(tmp / f"{side}.ids.npy", new_ids)
            np.save(tmp / f"{side}.offsets.npy", new_offsets)
            np.save(tmp / f"{side}.lang.npy", np.asarray(_load(src_p, f"{side}.lang.npy"))[index].astype(np.int16))
        new_meta = dict(meta)
        new_meta["n_pairs"] = len(index)
        new_meta["content_sha256"] = content_sha256(tmp)
        tok = meta.get("tokenizer")
        if tok and not os.path.isabs(tok):  # keep the relative path valid from the new folder
            new_meta["tokenizer"] = os.path.relpath((src_p / tok).resolve(), dst_p.resolve())
        new_meta["subset"] = {"fraction": fraction, "seed": seed, "source": str(src_p),
                              "source_sha256": meta.get("content_sha256"), "source_pairs": n}
        with open(tmp / "meta.json", "w", encoding="utf-8") as fh:
            json.dump(new_meta, fh, indent=2, sort_keys=True)
            fh.write("\n")
    logger.info("subset %s -> %s: %d of %d pairs (fraction %g, seed %d)", src_p, dst_p, len(index), n, fraction, seed)
    return new_meta
