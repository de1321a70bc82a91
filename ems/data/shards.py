"""Binarise train/valid pairs into memory-mappable token shards (docs/interfaces.md).

``shards/<split>/``: ``{src,tgt}.ids.npy`` (int32, concatenated ids, no special tokens),
``{src,tgt}.offsets.npy`` (int64, n+1), ``{src,tgt}.lang.npy`` (int16, index into
``meta.json["languages"]``) and ``meta.json`` with ``content_sha256``, a hash of all arrays
that tags every run trained on them.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import itertools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ems.data import npyio
from ems.data.tokenizer import PAD, SavedTokenizer, encode_batch
from ems.errors import DataError
from ems.io import atomic_dir, read_json, write_json
from ems.languages import ENGLISH

logger = logging.getLogger(__name__)

SIDES = ("src", "tgt")
ARRAYS = tuple(f"{side}.{kind}.npy" for side in SIDES for kind in ("ids", "offsets", "lang"))
CHUNK = 20000
HASH_CHUNK = 1 << 22


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
    """sha256 over the arrays' bytes, in a fixed order (names included), read in chunks."""
    h = hashlib.sha256()
    for name in ARRAYS:
        _, dtype, _ = npyio.header(folder / name)
        h.update(name.encode())
        h.update(str(dtype).encode())
        for block in npyio.iter_rows(folder / name, HASH_CHUNK):
            h.update(block.tobytes())
    return h.hexdigest()


def _encode_side(tok, texts: list[str], lowercase: bool, max_length: int,
                 lang: str) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, lengths)`` of ``texts`` of language ``lang``; each distinct sentence is encoded once
    (the sampled training set repeats the pairs of upsampled languages, next to each other)."""
    codes, uniques = pd.factorize(pd.Series(texts, dtype=object), sort=False)
    enc = encode_batch(tok, list(uniques), lowercase, max_length, lang)
    u_len = np.fromiter((len(e) for e in enc), dtype=np.int64, count=len(enc))
    u_ids = np.fromiter((i for e in enc for i in e), dtype=np.int32, count=int(u_len.sum()))
    u_start = np.zeros(len(uniques), dtype=np.int64)
    np.cumsum(u_len[:-1], out=u_start[1:])
    lengths = u_len[codes]
    starts = np.repeat(u_start[codes], lengths)
    within = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return u_ids[starts + within], lengths


def _offsets(lengths_raw: Path, out: Path) -> int:
    """``offsets.npy`` (n+1, int64) from a raw file of int64 lengths, streamed; return the token count."""
    n = lengths_raw.stat().st_size // 8
    total = 0
    with npyio.NpyWriter(out, np.int64, (n + 1,)) as dst, open(lengths_raw, "rb") as src:
        dst.write(np.zeros(1, dtype=np.int64))
        while len(block := np.fromfile(src, dtype=np.int64, count=HASH_CHUNK)):
            ends = np.cumsum(block) + total
            dst.write(ends)
            total = int(ends[-1])
    lengths_raw.unlink()
    return total


def _iter_tsv_chunks(path: Path, size: int):
    """Lists of ``(lang, src, tgt)`` of a corpus table, ``size`` rows at a time (streamed)."""
    from ems.data.tsv import check_header

    with gzip.open(path, "rt", encoding="utf-8", newline="\n") as fh:
        check_header(path, fh.readline())
        chunk = []
        for number, line in enumerate(fh, start=2):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 4:
                raise DataError(f"{path}, line {number}: {len(fields)} field(s), expected 4 (lang src tgt origin)")
            chunk.append(fields[:3])
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


def binarise(pairs_tsv: str | os.PathLike[str], tokenizer_dir: str | os.PathLike[str],
             out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Encode a ``lang src tgt origin`` table into ``out_dir`` (atomically, streaming); return meta."""
    tok = SavedTokenizer(tokenizer_dir)
    languages = list(tok.ems_languages)
    lowercase, max_length = tok.ems_lowercase, int(tok.ems_max_length)
    index = {lang: i for i, lang in enumerate(languages)}
    out_dir = Path(out_dir)
    pairs_tsv = Path(pairs_tsv)
    n = 0
    with atomic_dir(out_dir) as tmp:
        with contextlib.ExitStack() as stack:
            files = {name: stack.enter_context(open(tmp / name, "wb")) for name in
                     ("src.ids", "tgt.ids", "src.len", "tgt.len", "src.lang")}
            for chunk in _iter_tsv_chunks(pairs_tsv, CHUNK):
                langs = {row[0] for row in chunk}
                unknown = sorted(langs - set(index))
                if unknown:
                    raise DataError(f"{pairs_tsv}: languages {unknown} have no tag in the tokenizer {tokenizer_dir}; "
                                    "rerun the tokenizer step")
                for lang, run in itertools.groupby(chunk, key=lambda row: row[0]):  # one run per language
                    run = list(run)
                    for j, side, side_lang in ((1, "src", lang), (2, "tgt", ENGLISH)):
                        ids, lengths = _encode_side(tok, [row[j] for row in run], lowercase, max_length, side_lang)
                        files[f"{side}.ids"].write(ids.astype(np.int32).tobytes())
                        files[f"{side}.len"].write(lengths.astype(np.int64).tobytes())
                files["src.lang"].write(np.fromiter((index[row[0]] for row in chunk), dtype=np.int16,
                                                    count=len(chunk)).tobytes())
                n += len(chunk)
        tokens = {}
        for side in SIDES:
            npyio.raw_to_npy(tmp / f"{side}.ids", np.int32, tmp / f"{side}.ids.npy")
            tokens[side] = _offsets(tmp / f"{side}.len", tmp / f"{side}.offsets.npy")
        npyio.raw_to_npy(tmp / "src.lang", np.int16, tmp / "src.lang.npy")
        with npyio.NpyWriter(tmp / "tgt.lang.npy", np.int16, (n,)) as out:
            for start in range(0, n, HASH_CHUNK):
                out.write(np.full(min(HASH_CHUNK, n - start), index[ENGLISH], dtype=np.int16))
        meta = _meta(n, languages, tok, max_length, lowercase, tokenizer_dir, out_dir, tmp, tokens)
        write_json(tmp / "meta.json", meta)
    logger.info("binarised %d pairs into %s (%s)", n, out_dir, meta["content_sha256"][:12])
    return meta


def _meta(n: int, languages: list[str], tok, max_length: int, lowercase: bool, tokenizer_dir, out_dir: Path,
          tmp: Path, tokens: dict[str, int]) -> dict[str, Any]:
    return {
        "n_pairs": n, "languages": languages, "vocab_size": len(tok), "pad_id": PAD,
        "max_length": max_length, "lowercase": lowercase,
        "tokenizer": os.path.relpath(Path(tokenizer_dir).resolve(), out_dir.resolve()),
        "content_sha256": content_hash(tmp), "tokens": tokens,
    }


def merge_shards(parts: list[str | os.PathLike[str]], tokenizer_dir: str | os.PathLike[str],
                 out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Concatenate per-language shard folders (in the order given) into one, streaming through memmaps."""
    tok = SavedTokenizer(tokenizer_dir)
    metas = [read_json(Path(p) / "meta.json") for p in parts]
    for p, m in zip(parts, metas):
        if m["languages"] != list(tok.ems_languages):
            raise DataError(f"{p}: binarised with another tokenizer (languages differ); rerun its binarise job")
    keep = [i for i, m in enumerate(metas) if m["n_pairs"] > 0]  # languages the plan dropped are empty
    parts, metas = [parts[i] for i in keep], [metas[i] for i in keep]
    n = sum(m["n_pairs"] for m in metas)
    if n == 0:
        raise DataError(f"no pairs in any of the shard parts under {Path(out_dir).parent / 'parts'}")
    tokens = {side: sum(m["tokens"][side] for m in metas) for side in SIDES}
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        for side in SIDES:
            with npyio.NpyWriter(tmp / f"{side}.ids.npy", np.int32, (tokens[side],)) as ids, \
                    npyio.NpyWriter(tmp / f"{side}.offsets.npy", np.int64, (n + 1,)) as offsets, \
                    npyio.NpyWriter(tmp / f"{side}.lang.npy", np.int16, (n,)) as lang:
                offsets.write(np.zeros(1, dtype=np.int64))
                tok_pos = 0
                for p, m in zip(parts, metas):
                    for block in npyio.iter_rows(Path(p) / f"{side}.ids.npy", HASH_CHUNK):
                        ids.write(block)
                    for block in npyio.iter_rows(Path(p) / f"{side}.offsets.npy", HASH_CHUNK, start=1):
                        offsets.write(block + tok_pos)
                    for block in npyio.iter_rows(Path(p) / f"{side}.lang.npy", HASH_CHUNK):
                        lang.write(block)
                    tok_pos += m["tokens"][side]
        meta = _meta(n, list(tok.ems_languages), tok, int(tok.ems_max_length), tok.ems_lowercase, tokenizer_dir,
                     out_dir, tmp, tokens)
        meta["parts"] = [Path(p).name for p in parts]
        write_json(tmp / "meta.json", meta)
    logger.info("merged %d parts: %d pairs into %s (%s)", len(parts), n, out_dir, meta["content_sha256"][:12])
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
