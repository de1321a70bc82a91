"""Deterministic training-data subsets for the ``data_fraction`` ablation factor.

Writes a shard folder (same format as ``shards/train``, see docs/interfaces.md) holding a
fixed fraction of the *unique* pairs of every language, so the trainer needs no knowledge of
the factor: a variant with fraction < 1 simply reads ``shards/train-frac<f>/``.

The training shards are already temperature-sampled: an upsampled language holds each of its
pairs several times. Cutting rows would keep nearly every unique pair of such a language
(1 - (1 - f)^repeats of them); instead, for each language a fraction ``f`` of its distinct
pairs (identical token sequences on both sides) is kept **with all their repetitions**. This is
the subset taken before sampling: temperature probabilities p_l ∝ (f n_l)^(1/T) equal those of
the full pool, so re-sampling f of each pool to f of the training size gives, per language, f
of the unique pairs at the same repetition rate. The subset depends only on the source shards,
the fraction and the seed (not on the training seed), and smaller fractions are nested in
larger ones (same random order of unique pairs, prefix cut).
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


def _row_hashes(ids: np.ndarray, offsets: np.ndarray, salt: int) -> np.ndarray:
    """A 64-bit hash of each row's token sequence (position-weighted sum, wrapping arithmetic)."""
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    max_len = int(lengths.max()) if len(lengths) else 0
    weights = np.random.default_rng(salt).integers(1, 2**63, size=max_len + 1, dtype=np.uint64) | np.uint64(1)
    pos = np.arange(int(offsets[-1]), dtype=np.int64) - np.repeat(offsets[:-1], lengths)
    with np.errstate(over="ignore"):
        mix = (np.asarray(ids, dtype=np.uint64) + np.uint64(1)) * weights[pos]
        cum = np.concatenate([np.zeros(1, np.uint64), np.cumsum(mix, dtype=np.uint64)])
        return cum[offsets[1:]] - cum[offsets[:-1]] + lengths.astype(np.uint64) * weights[-1]


def pair_keys(sides: dict[str, tuple[np.ndarray, np.ndarray]], langs: np.ndarray) -> np.ndarray:
    """Id (0..u-1, in order of first row) of each row's distinct pair: rows of one language with
    equal token ids on both sides share one (two 64-bit hashes per side: a collision is out of reach)."""
    cols = [_row_hashes(ids, off, salt) for ids, off in sides.values() for salt in (11, 12)]
    cols.append(np.asarray(langs).astype(np.uint64))
    _, first, inverse = np.unique(np.stack(cols, axis=1), axis=0, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)]  # numbered by first row: all-distinct rows get keys 0..n-1


def select_pairs(langs: np.ndarray, fraction: float, seed: int, keys: np.ndarray | None = None) -> np.ndarray:
    """Sorted row indices keeping ``fraction`` of each language's distinct pairs (at least one).

    ``keys`` (one id per row, equal for repeated rows) names the distinct pairs; without it
    every row is its own pair. All rows of a kept pair are kept.
    """
    if not 0 < fraction <= 1:
        raise DataError(f"data fraction must be in (0, 1], got {fraction}")
    langs = np.asarray(langs)
    keys = np.arange(len(langs)) if keys is None else np.asarray(keys)
    if len(keys) != len(langs):
        raise DataError(f"{len(keys)} pair keys for {len(langs)} rows")
    n_keys = int(keys.max()) + 1 if len(keys) else 0
    key_lang = np.full(n_keys, -1, dtype=np.int64)
    key_lang[keys] = langs
    order = np.random.default_rng(seed).permutation(n_keys)  # distinct pairs in random order
    ordered_langs = key_lang[order]
    keep_key = np.zeros(n_keys, dtype=bool)
    for lang in np.unique(ordered_langs):
        members = order[ordered_langs == lang]
        keep_key[members[:max(1, round(fraction * len(members)))]] = True
    return np.flatnonzero(keep_key[keys]) if len(keys) else np.zeros(0, dtype=np.int64)


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
    sides = {side: (_load(src_p, f"{side}.ids.npy"), np.asarray(_load(src_p, f"{side}.offsets.npy"))) for side in SIDES}
    for side, (_, offsets) in sides.items():
        if len(offsets) != n + 1:
            raise DataError(f"{src_p / (side + '.offsets.npy')}: expected {n + 1} offsets, found {len(offsets)}")
    keys = pair_keys(sides, langs)
    index = select_pairs(langs, fraction, seed, keys)
    n_unique, kept_unique = int(keys.max()) + 1 if n else 0, len(np.unique(keys[index]))
    with atomic_dir(dst_p) as tmp:
        for side in SIDES:
            ids, offsets = sides[side]
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
                              "source_sha256": meta.get("content_sha256"), "source_pairs": n,
                              "source_unique_pairs": n_unique, "unique_pairs": kept_unique,
                              "unit": "distinct pairs per language, with their repetitions"}
        with open(tmp / "meta.json", "w", encoding="utf-8") as fh:
            json.dump(new_meta, fh, indent=2, sort_keys=True)
            fh.write("\n")
    logger.info("subset %s -> %s: %d of %d rows, %d of %d distinct pairs (fraction %g, seed %d)",
                src_p, dst_p, len(index), n, kept_unique, n_unique, fraction, seed)
    return new_meta
