"""Binarise train/valid pairs into memory-mappable token shards (docs/interfaces.md).

``shards/<split>/``: ``{src,tgt}.ids.npy`` (int32, concatenated ids, no special tokens),
``{src,tgt}.offsets.npy`` (int64, n+1), ``{src,tgt}.lang.npy`` (int16, index into
``meta.json["languages"]``) and ``meta.json`` with ``content_sha256``, a hash of all arrays
that tags every run trained on them.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ems.data.tokenizer import PAD, encode_batch, load_tokenizer
from ems.data.tsv import read_pairs
from ems.errors import DataError
from ems.io import atomic_dir, read_json, write_json
from ems.languages import ENGLISH

logger = logging.getLogger(__name__)

SIDES = ("src", "tgt")
ARRAYS = tuple(f"{side}.{kind}.npy" for side in SIDES for kind in ("ids", "offsets", "lang"))
CHUNK = 20000


@dataclass
class Shards:
    """One split's arrays (memory-mapped) and meta. Sentence i of a side is
    ``ids[offsets[i]:offsets[i+1]]``."""

    src_ids: np.ndarray
    src_offsets: np.ndarray
    src_lang: np.ndarray
    tgt_ids: np.ndarray
    tgt_offsets: np.ndarray
    tgt_lang: np.ndarray
    meta: dict[str, Any]
    path: Path

    @property
    def n_pairs(self) -> int:
        return int(self.meta["n_pairs"])

    @property
    def languages(self) -> list[str]:
        return list(self.meta["languages"])

    def __len__(self) -> int:
        return self.n_pairs

    def sentence(self, side: str, i: int) -> np.ndarray:
        ids, off = getattr(self, f"{side}_ids"), getattr(self, f"{side}_offsets")
        return ids[off[i]:off[i + 1]]

    def tokenizer_dir(self) -> Path:
        return (self.path / self.meta["tokenizer"]).resolve()


def content_hash(folder: Path) -> str:
    """sha256 over the arrays' bytes, in a fixed order (names included)."""
    h = hashlib.sha256()
    for name in ARRAYS:
        arr = np.load(folder / name, mmap_mode="r")
        h.update(name.encode())
        h.update(str(arr.dtype).encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _encode_side(tok, texts: list[str], lowercase: bool, max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, offsets)`` of ``texts``; each distinct sentence is encoded once (the sampled
    training set repeats the pairs of upsampled languages)."""
    codes, uniques = pd.factorize(pd.Series(texts, dtype=object), sort=False)
    u_len = np.zeros(len(uniques), dtype=np.int64)
    chunks = []
    for start in range(0, len(uniques), CHUNK):
        enc = encode_batch(tok, list(uniques[start:start + CHUNK]), lowercase, max_length)
        u_len[start:start + len(enc)] = [len(e) for e in enc]
        chunks.append(np.fromiter((i for e in enc for i in e), dtype=np.int32))
    u_ids = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int32)
    u_start = np.zeros(len(uniques), dtype=np.int64)
    np.cumsum(u_len[:-1], out=u_start[1:])
    lengths = u_len[codes]
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    gather = np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1], lengths) + np.repeat(u_start[codes], lengths)
    return u_ids[gather], offsets


def binarise(pairs_tsv: str | os.PathLike[str], tokenizer_dir: str | os.PathLike[str],
             out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Encode a ``lang src tgt origin`` table into ``out_dir`` (atomically); return meta."""
    tok = load_tokenizer(tokenizer_dir)
    languages = list(tok.ems_languages)
    lowercase, max_length = tok.ems_lowercase, int(tok.ems_max_length)
    frame = read_pairs(pairs_tsv, usecols=["lang", "src", "tgt"])
    index = {lang: i for i, lang in enumerate(languages)}
    unknown = sorted(set(frame["lang"].unique()) - set(index))
    if unknown:
        raise DataError(f"{pairs_tsv}: languages {unknown} have no tag in the tokenizer {tokenizer_dir}; rerun the tokenizer step")
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        for side in SIDES:
            ids, offsets = _encode_side(tok, frame[side].tolist(), lowercase, max_length)
            np.save(tmp / f"{side}.ids.npy", ids)
            np.save(tmp / f"{side}.offsets.npy", offsets)
        np.save(tmp / "src.lang.npy", frame["lang"].map(index).to_numpy(dtype=np.int16))
        np.save(tmp / "tgt.lang.npy", np.full(len(frame), index[ENGLISH], dtype=np.int16))
        meta = {
            "n_pairs": len(frame), "languages": languages, "vocab_size": len(tok), "pad_id": PAD,
            "max_length": max_length, "lowercase": lowercase,
            "tokenizer": os.path.relpath(Path(tokenizer_dir).resolve(), out_dir.resolve()),
            "content_sha256": content_hash(tmp),
            "tokens": {side: int(np.load(tmp / f"{side}.offsets.npy", mmap_mode="r")[-1]) for side in SIDES},
        }
        write_json(tmp / "meta.json", meta)
    logger.info("binarised %d pairs into %s (%s)", len(frame), out_dir, meta["content_sha256"][:12])
    return meta


def load_shards(path: str | os.PathLike[str]) -> Shards:
    """Memory-map one split's shards."""
    path = Path(path)
    if not (path / "meta.json").exists():
        raise DataError(f"{path}: no meta.json; run the binarise step")
    arrays = {}
    for name in ARRAYS:
        try:
            arrays[name.replace(".npy", "").replace(".", "_")] = np.load(path / name, mmap_mode="r")
        except FileNotFoundError as exc:
            raise DataError(f"{path}: shard file {name} missing; rerun the binarise step") from exc
    return Shards(meta=read_json(path / "meta.json"), path=path, **arrays)
