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


def key64(text: str) -> int:
    """The 64-bit key of one string (xxh3 of its UTF-8 bytes; stable across processes and runs)."""
    return _xxh3(text.encode("utf-8"))


def keys64(texts: Iterable[str]) -> np.ndarray:
    """``uint64`` keys of many strings."""
    return np.fromiter((_xxh3(t.encode("utf-8")) for t in texts), dtype=np.uint64)


def member(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Boolean mask: which of ``keys`` are in the sorted array ``sorted_keys``."""
    if len(sorted_keys) == 0 or len(keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    pos = np.searchsorted(sorted_keys, keys)
    pos[pos == len(sorted_keys)] = 0
    return sorted_keys[pos] == keys


class KeySet:
    """A growing set of ``uint64`` keys: a large sorted array plus a small sorted buffer.

    :meth:`add_new` marks the keys of a chunk that were not seen before (first occurrence
    within the chunk wins) and adds them. The buffer is merged into the main array when it
    passes ``buffer_max`` keys, so memory stays ~8 bytes per key (16 during a merge).
    """

    def __init__(self, buffer_max: int = 1 << 20) -> None:
        self.main = np.zeros(0, dtype=np.uint64)
        self.buffer = np.zeros(0, dtype=np.uint64)
        self.buffer_max = buffer_max

    def __len__(self) -> int:
        return len(self.main) + len(self.buffer)

    def __contains__(self, key: int) -> bool:
        probe = np.array([key], dtype=np.uint64)
        return bool(member(self.main, probe)[0] or member(self.buffer, probe)[0])

    def add_new(self, keys: np.ndarray) -> np.ndarray:
        """Mask of ``keys`` seen for the first time (earlier in the set or earlier in ``keys``: False)."""
        keys = np.asarray(keys, dtype=np.uint64)
        first = np.zeros(len(keys), dtype=bool)
        if len(keys) == 0:
            return first
        _, idx = np.unique(keys, return_index=True)
        first[idx] = True
        first &= ~member(self.main, keys) & ~member(self.buffer, keys)
        new = np.sort(keys[first])
        if len(new):
            merged = np.concatenate([self.buffer, new])
            merged.sort(kind="stable")
            self.buffer = merged
            if len(self.buffer) > self.buffer_max:
                merged = np.concatenate([self.main, self.buffer])
                self.buffer = np.zeros(0, dtype=np.uint64)
                self.main = np.zeros(0, dtype=np.uint64)
                merged.sort(kind="stable")
                self.main = merged
        return first
