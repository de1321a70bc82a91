"""One language's training sample, validation pairs and tokenizer sample, in one streaming pass.

The plan (:mod:`ems.data.split`) gives the language's validation rows and its number of
training pairs. The pool (rows that are neither validation pairs nor share a side with one)
is sampled as before: every pool pair ``k`` times plus a seeded draw without replacement of
the remainder (upsampling by repetition), or a draw without replacement when the language is
subsampled. Repeats stand next to each other in ``train.tsv.gz``; the training sampler
shuffles. The tokenizer sample is a bottom-k sketch: the ``k`` distinct sentences with the
smallest seeded 64-bit hash, per side, a uniform sample of the distinct sentences of the
training sample that needs O(k) memory, and whose English parts merge exactly across
languages (:func:`merge_sketches`).
"""

from __future__ import annotations

import gzip
import heapq
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ems.data.hashing import key64
from ems.data.split import iter_pool, language_rng
from ems.data.tsv import HEADER_LINE
from ems.errors import DataError
from ems.io import atomic_dir, read_json, write_json

logger = logging.getLogger(__name__)

class Sketch:
    """The ``k`` distinct strings with the smallest seeded xxh3 hash (a uniform distinct sample)."""

    def __init__(self, k: int, seed: int) -> None:
        self.k = k
        self.seed = seed
        self.heap: list[tuple[int, str]] = []  # max-heap by negated priority
        self.members: set[str] = set()

    def add(self, text: str) -> None:
        p = key64(text, self.seed)
        if len(self.heap) >= self.k and p >= -self.heap[0][0]:
            return
        if text in self.members:
            return
        if len(self.heap) < self.k:
            heapq.heappush(self.heap, (-p, text))
        else:
            _, out = heapq.heappushpop(self.heap, (-p, text))
            self.members.discard(out)
        self.members.add(text)

    def items(self) -> list[tuple[int, str]]:
        return sorted((-q, t) for q, t in self.heap)


def merge_sketches(items: Iterable[tuple[int, str]], k: int) -> list[str]:
    """The ``k`` distinct strings of smallest priority among several sketches' ``(priority, text)``."""
    seen: dict[str, int] = {}
    for p, t in items:
        seen[t] = p
    return [t for _, t in sorted((p, t) for t, p in seen.items())[:k]]


def draw_counts(pool_size: int, target: int, rng: np.random.Generator) -> tuple[int, np.ndarray]:
    """``(repeats of every pool row, sorted pool positions drawn once more)``."""
    reps, rest = divmod(target, pool_size)
    extra = np.sort(rng.choice(pool_size, size=rest, replace=False)) if rest else np.zeros(0, dtype=np.int64)
    return reps, extra


def sample_language(lang: str, language_dir: str | os.PathLike[str], plan_dir: str | os.PathLike[str],
                    out_dir: str | os.PathLike[str], sketch_size: int) -> dict[str, Any]:
    """Write ``out_dir/{train,valid}.tsv.gz``, ``tokenizer_sample.tsv.gz`` and ``counts.json``."""
    plan = read_json(Path(plan_dir) / "plan.json")
    if lang not in plan["languages"]:
        if lang in plan["dropped"]:
            return _dropped(lang, out_dir, plan["dropped"][lang])
        raise DataError(f"{plan_dir}/plan.json: language {lang} is not in the plan; rerun the plan step")
    entry = plan["languages"][lang]
    seed = int(plan["seed"])
    valid_idx = np.asarray(entry["valid"], dtype=np.int64)
    valid_src, valid_tgt = (np.load(Path(plan_dir) / f"valid_{s}.npy") for s in ("src", "tgt"))
    # Pool positions, 4 bytes each while a language has fewer than 2^32 pairs.
    index_type = np.uint32 if entry["pairs"] < 2**32 else np.int64
    parts = [(np.flatnonzero(mask) + start).astype(index_type)
             for start, mask in iter_pool(Path(language_dir) / "keys.npy", valid_idx, valid_src, valid_tgt)]
    pool = np.concatenate(parts) if parts else np.zeros(0, dtype=index_type)
    del parts
    if len(pool) != entry["available"]:
        raise DataError(f"{language_dir}: {len(pool)} pool pairs, the plan says {entry['available']}; rerun the plan")
    reps, extra = draw_counts(len(pool), int(entry["sampled"]), language_rng(seed, lang, "sample"))
    # Per row of the language file: how many times it goes into train (0 outside the pool).
    extra_rows = pool[extra]
    pool_iter = _ints(pool) if reps else None
    extra_iter = _ints(extra_rows)
    valid_pos = {int(i): j for j, i in enumerate(valid_idx)}
    valid_rows: list[str | None] = [None] * len(valid_idx)
    src_sketch, eng_sketch = Sketch(sketch_size, seed), Sketch(sketch_size, seed)
    written = 0
    next_pool = next(pool_iter, None) if pool_iter else None
    next_extra = next(extra_iter, None)
    with atomic_dir(out_dir) as tmp:
        with gzip.open(Path(language_dir) / "pairs.tsv.gz", "rt", encoding="utf-8", newline="\n") as fin, \
                gzip.open(tmp / "train.tsv.gz", "wt", encoding="utf-8", compresslevel=1, newline="\n") as fout:
            fin.readline()
            fout.write(HEADER_LINE)
            buf: list[str] = []
            for i, line in enumerate(fin):
                times = 0
                if next_pool is not None and i == next_pool:
                    times = reps
                    next_pool = next(pool_iter, None)
                while next_extra == i:
                    times += 1
                    next_extra = next(extra_iter, None)
                if times:
                    buf.extend([line] * times)
                    written += times
                    _, src, tgt, _ = line.split("\t", 3)
                    src_sketch.add(src)
                    eng_sketch.add(tgt)
                    if len(buf) >= 10_000:
                        fout.write("".join(buf))
                        buf.clear()
                elif i in valid_pos:
                    valid_rows[valid_pos[i]] = line
            fout.write("".join(buf))
        if written != entry["sampled"] or any(r is None for r in valid_rows):
            raise DataError(f"{language_dir}/pairs.tsv.gz: shorter than its keys.npy ({written} of {entry['sampled']} "
                            "sampled pairs written); rerun its prepare job")
        with gzip.open(tmp / "valid.tsv.gz", "wt", encoding="utf-8", compresslevel=1, newline="\n") as fv:
            fv.write(HEADER_LINE)
            fv.write("".join(valid_rows))  # type: ignore[arg-type]
        with gzip.open(tmp / "tokenizer_sample.tsv.gz", "wt", encoding="utf-8", compresslevel=1, newline="\n") as fs:
            for side, sketch in (("src", src_sketch), ("eng", eng_sketch)):
                fs.writelines(f"{side}\t{p}\t{t}\n" for p, t in sketch.items())
        counts = {"lang": lang, "train": written, "valid": len(valid_rows), "pool": len(pool),
                  "repeats": round(written / len(pool), 4)}
        write_json(tmp / "counts.json", counts)
    logger.info("%s: %d training pairs from a pool of %d (x%.2f), %d validation pairs", lang, written, len(pool),
                counts["repeats"], len(valid_rows))
    return counts


def _ints(array: np.ndarray, chunk: int = 1 << 16):
    """The values of an array as Python ints, a chunk at a time (a whole ``tolist()`` costs ~36 bytes each)."""
    for start in range(0, len(array), chunk):
        yield from array[start:start + chunk].tolist()


def _dropped(lang: str, out_dir: str | os.PathLike[str], pairs: int) -> dict[str, Any]:
    """Empty outputs for a language that the plan dropped (fewer than min_pairs_per_language pairs)."""
    counts = {"lang": lang, "train": 0, "valid": 0, "pool": 0, "dropped": True, "pairs": pairs}
    with atomic_dir(out_dir) as tmp:
        for name in ("train.tsv.gz", "valid.tsv.gz"):
            with gzip.open(tmp / name, "wt", encoding="utf-8") as fh:
                fh.write(HEADER_LINE)
        with gzip.open(tmp / "tokenizer_sample.tsv.gz", "wt", encoding="utf-8"):
            pass
        write_json(tmp / "counts.json", counts)
    logger.info("%s: dropped by the plan (%d pairs < min_pairs_per_language): empty outputs", lang, pairs)
    return counts


def read_tokenizer_samples(sample_dirs: Mapping[str, str | os.PathLike[str]], k: int) -> dict[str, list[str]]:
    """``{lang: sentences}`` for the tokenizer: each language's sketch, English merged over all."""
    out: dict[str, list[str]] = {}
    english: list[tuple[int, str]] = []
    for lang, d in sorted(sample_dirs.items()):
        if read_json(Path(d) / "counts.json").get("dropped"):
            continue
        src: list[tuple[int, str]] = []
        with gzip.open(Path(d) / "tokenizer_sample.tsv.gz", "rt", encoding="utf-8", newline="\n") as fh:
            for line in fh:
                side, p, text = line.rstrip("\n").split("\t", 2)
                (src if side == "src" else english).append((int(p), text))
        out[lang] = merge_sketches(src, k)
    from ems.languages import ENGLISH

    out[ENGLISH] = merge_sketches(english, k)
    return out
