"""One language's training pairs, streamed: read every source, clean, de-duplicate, decontaminate.

Per pair, in one pass and in bounded memory: :func:`ems.data.clean.normalise` both sides,
drop it for the first filter that applies (empty side, too short, too long, length ratio,
identical sides), then as an exact duplicate of an earlier ``(src, tgt)`` (64-bit keys in a
:class:`~ems.data.hashing.KeySet`), then when either side's match key is in an evaluation
set (:mod:`ems.data.evalkeys`). Outputs of ``corpus/languages/<lang>/``:

- ``pairs.tsv.gz``: the kept pairs (``lang src tgt origin``), in source order;
- ``keys.npy``: ``(n, 2) uint64``, the match keys of each kept pair's sides, which the
  validation split reads without the text;
- ``stats.json``: pairs read, kept after cleaning, kept after decontamination, removals per
  reason, per evaluation set and side, seconds and pairs/s.
"""

from __future__ import annotations

import gzip
import logging
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ems.data.clean import normalise, weighted_length
from ems.data.corpora.lines import Progress
from ems.data.evalkeys import EvalKeys
from ems.data.hashing import KeySet, keys64
from ems.data.npyio import raw_to_npy
from ems.data.tsv import HEADER_LINE
from ems.errors import DataError
from ems.io import atomic_dir, write_json

logger = logging.getLogger(__name__)

CHUNK = 50_000
FILTERS = ("empty", "too_short", "too_long", "length_ratio", "identical_sides")
LOG_EVERY_S = 15.0
_FIRST_WIDE = "\u1100"  # the lowest code point that ems.data.clean weighs as wide


def filter_reason(src: str, tgt: str, min_chars: int, max_chars: int, max_ratio: float) -> str | None:
    """The first filter that drops a normalised pair, or None (the order counts each pair once)."""
    ls, lt = len(src), len(tgt)
    short, long_ = (ls, lt) if ls <= lt else (lt, ls)
    if short == 0:
        return "empty"
    if short < min_chars:
        return "too_short"
    if long_ > max_chars:
        return "too_long"
    # No character at or above U+1100 (max() runs in C): no wide character, weight = length.
    ws = ls if src.isascii() or max(src) < _FIRST_WIDE else weighted_length(src)
    wt = lt if tgt.isascii() or max(tgt) < _FIRST_WIDE else weighted_length(tgt)
    if max(ws, wt) > max_ratio * max(min(ws, wt), 1):
        return "length_ratio"
    if src == tgt:
        return "identical_sides"
    return None


class LanguageCleaner:
    """The streaming state of one language: filters, exact-dedup keys, evaluation keys, counts."""

    def __init__(self, lang: str, settings: Mapping[str, Any], eval_keys: EvalKeys) -> None:
        self.lang = lang
        self.min_chars, self.max_chars = settings["min_chars"], settings["max_chars"]
        self.max_ratio = settings["max_length_ratio"]
        self.eval_keys = eval_keys
        self.seen = KeySet()
        self.read = 0
        self.removed: Counter[str] = Counter()
        self.contaminated: Counter[tuple[str, str]] = Counter()
        self.kept = 0

    def process(self, chunk: list[tuple[str, str, str]]) -> tuple[list[str], np.ndarray]:
        """Return the kept rows (TSV lines) of a chunk and their side match keys ``(n, 2)``."""
        self.read += len(chunk)
        lo, hi, ratio = self.min_chars, self.max_chars, self.max_ratio
        survivors: list[tuple[str, str, str]] = []
        removed = self.removed
        for src, tgt, origin in chunk:
            s, t = normalise(src), normalise(tgt)
            reason = filter_reason(s, t, lo, hi, ratio)
            if reason is None:
                survivors.append((s, t, origin))
            else:
                removed[reason] += 1
        first = self.seen.add_new(keys64(f"{s}\t{t}" for s, t, _ in survivors))
        removed["duplicate"] += int(len(survivors) - first.sum())
        unique = [row for row, keep in zip(survivors, first.tolist()) if keep]
        src_keys = keys64(s.casefold() for s, _, _ in unique)
        tgt_keys = keys64(t.casefold() for _, t, _ in unique)
        src_hit, tgt_hit = self.eval_keys.lookup(src_keys), self.eval_keys.lookup(tgt_keys)
        clean = (src_hit < 0) & (tgt_hit < 0)
        for i in np.flatnonzero(~clean):
            s_set, t_set = int(src_hit[i]), int(tgt_hit[i])
            if t_set < 0 or (0 <= s_set <= t_set):
                reason, side = s_set, "src" if t_set < 0 else "both"
            else:
                reason, side = t_set, "tgt" if s_set < 0 else "both"
            self.contaminated[(self.eval_keys.names[reason], side)] += 1
        lang = self.lang
        rows = [f"{lang}\t{s}\t{t}\t{o}\n" for (s, t, o), keep in zip(unique, clean.tolist()) if keep]
        self.kept += len(rows)
        return rows, np.stack([src_keys[clean], tgt_keys[clean]], axis=1)

    @property
    def clean_count(self) -> int:
        return self.read - sum(self.removed.values())

    def stats(self, seconds: float) -> dict[str, Any]:
        return {
            "lang": self.lang, "parsed": self.read, "clean": self.clean_count, "decontaminated": self.kept,
            "removed": {r: self.removed[r] for r in (*FILTERS, "duplicate") if self.removed[r]},
            "decontamination": [{"reason": r, "side": s, "removed": n} for (r, s), n in sorted(self.contaminated.items())],
            "seconds": round(seconds, 3), "pairs_per_s": round(self.read / max(seconds, 1e-9), 1),
        }


def _chunks(pairs: Iterable[tuple[str, str, str]], size: int):
    chunk: list[tuple[str, str, str]] = []
    for row in pairs:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def prepare_language(lang: str, pairs: Iterable[tuple[str, str, str]], settings: Mapping[str, Any],
                     eval_keys: EvalKeys, out_dir: str | os.PathLike[str], progress: Progress | None = None,
                     where: str = "corpus.sources") -> dict[str, Any]:
    """Clean, de-duplicate and decontaminate one language's pairs into ``out_dir`` (atomically)."""
    cleaner = LanguageCleaner(lang, settings, eval_keys)
    start = last = time.monotonic()
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        keys_raw = tmp / "keys.u64"
        with gzip.open(tmp / "pairs.tsv.gz", "wt", encoding="utf-8", compresslevel=1, newline="\n") as out, \
                open(keys_raw, "wb") as kout:
            out.write(HEADER_LINE)
            for chunk in _chunks(pairs, CHUNK):
                rows, keys = cleaner.process(chunk)
                out.write("".join(rows))
                kout.write(np.ascontiguousarray(keys, dtype=np.uint64).tobytes())
                now = time.monotonic()
                if now - last >= LOG_EVERY_S:
                    last = now
                    _log_progress(cleaner, now - start, progress)
        if cleaner.read == 0:
            raise DataError(f"{where}: no pairs for language {lang}; remove it from corpus.languages or add a source")
        if cleaner.clean_count == 0:
            raise DataError(f"{where}: language {lang}: every one of its {cleaner.read} pairs was removed "
                            f"({dict(cleaner.removed)}); check corpus.min_chars/max_chars/max_length_ratio")
        cleaner.seen = KeySet()  # free the dedup keys before the copy
        raw_to_npy(keys_raw, np.uint64, tmp / "keys.npy", columns=2)
        stats = cleaner.stats(time.monotonic() - start)
        write_json(tmp / "stats.json", stats)
    logger.info("%s: read %d, clean %d, decontaminated %d pairs in %.1f s (%.0f pairs/s); removed %s, "
                "evaluation overlap %s", lang, stats["parsed"], stats["clean"], stats["decontaminated"],
                stats["seconds"], stats["pairs_per_s"], stats["removed"],
                {f"{d['reason']}/{d['side']}": d["removed"] for d in stats["decontamination"]})
    return stats


def _log_progress(cleaner: LanguageCleaner, elapsed: float, progress: Progress | None) -> None:
    rate = cleaner.read / max(elapsed, 1e-9)
    frac = progress.fraction() if progress is not None else None
    eta = f", {100 * frac:.1f}% of the input, ETA {elapsed * (1 - frac) / frac:.0f} s" if frac else ""
    logger.info("%s: %d pairs read, %d kept, %.0f pairs/s, %.0f s elapsed%s", cleaner.lang, cleaner.read,
                cleaner.kept, rate, elapsed, eta)
