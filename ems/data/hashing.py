"""64-bit keys of sentences and a bounded-memory set of them (exact dedup, decontamination).

Keys are xxh3-64 of the UTF-8 text (as stopes and OpusFilter hash lines): 8 bytes per key
in a numpy ``uint64`` array instead of ~75 bytes per Python string in a set. With 64 bits, a
false match among 100M keys has probability ~3e-4 (birthday bound n²/2⁶⁵): negligible next to
the sentences the filters drop on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import xxhash

_xxh3 = xxhash.xxh3_64_intdigest


def key64(text: str, seed: int = 0) -> int:
    """The 64-bit key of one string (xxh3 of its UTF-8 bytes; stable across processes and runs)."""
    return _xxh3(text.encode("utf-8"), seed=seed)


def keys64(texts: Iterable[str]) -> np.ndarray:
    """``uint64`` keys of many strings."""
    return np.fromiter((_xxh3(t.encode("utf-8")) for t in texts), dtype=np.uint64)


def positions(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(position in sorted_keys, found)`` of each of ``keys`` (position meaningful where found)."""
    if len(sorted_keys) == 0 or len(keys) == 0:
        return np.zeros(len(keys), dtype=np.int64), np.zeros(len(keys), dtype=bool)
    pos = np.searchsorted(sorted_keys, keys)
    pos[pos == len(sorted_keys)] = 0
    return pos, sorted_keys[pos] == keys


def member(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Boolean mask: which of ``keys`` are in the sorted array ``sorted_keys``."""
    return positions(sorted_keys, keys)[1]


class KeySet:
    """A growing set of ``uint64`` keys in sorted levels of geometric size (a log-structured merge).

    :meth:`add_new` marks the keys of a chunk that were not seen before (the first occurrence
    within the chunk wins) and adds them to level 0; a level that outgrows ``base * growth**i``
    keys is merged into the next. Each key is copied O(log n) times in all, lookups are one
    ``searchsorted`` per level, and memory stays ~8 bytes per key (~16 while the largest level
    merges), whatever the number of keys (the target of a per-language job: 16 bytes per pair).
    """

    def __init__(self, base: int = 1 << 20, growth: int = 8) -> None:
        self.levels: list[np.ndarray] = []
        self.base = base
        self.growth = growth

    def __len__(self) -> int:
        return sum(len(level) for level in self.levels)

    def __contains__(self, key: int) -> bool:
        probe = np.array([key], dtype=np.uint64)
        return any(member(level, probe)[0] for level in self.levels)

    def add_new(self, keys: np.ndarray) -> np.ndarray:
        """Mask of ``keys`` seen for the first time (earlier in the set or earlier in ``keys``: False)."""
        keys = np.asarray(keys, dtype=np.uint64)
        first = np.zeros(len(keys), dtype=bool)
        if len(keys) == 0:
            return first
        unique, idx = np.unique(keys, return_index=True)  # sorted: searchsorted walks each level once
        fresh = np.ones(len(unique), dtype=bool)
        for level in self.levels:
            fresh &= ~member(level, unique)
        first[idx[fresh]] = True
        if fresh.any():
            self._insert(unique[fresh])
        return first

    def _insert(self, new: np.ndarray) -> None:
        if not self.levels:
            self.levels.append(np.zeros(0, dtype=np.uint64))
        merged = np.concatenate([self.levels[0], new])
        merged.sort(kind="stable")  # two sorted runs: one merge pass
        self.levels[0] = merged
        i = 0
        while len(self.levels[i]) > self.base * self.growth ** i:
            if i + 1 == len(self.levels):
                self.levels.append(np.zeros(0, dtype=np.uint64))
            merged = np.concatenate([self.levels[i + 1], self.levels[i]])
            self.levels[i] = np.zeros(0, dtype=np.uint64)
            self.levels[i + 1] = np.zeros(0, dtype=np.uint64)
            merged.sort(kind="stable")
            self.levels[i + 1] = merged
            i += 1
