"""Per-sentence embedding cache per (model, dataset), shared by the tasks of one model.

Files ``<cache dir>/<lang>/<dataset>.npz`` hold sentence hashes and rows; a lookup reads
every dataset file of the language, so tasks that share sentences (SIB-200 is FLORES text;
FLORES English is shared by all languages) embed them once. The cache folder must be
specific to one model (the CLI puts the encoder's fingerprint in the path). Writes are
atomic, so parallel jobs at worst embed a sentence twice.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ems.encoders.base import Encoder
from ems.io import atomic_open

logger = logging.getLogger(__name__)


def sentence_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class CachedEncoder:
    """Wraps an encoder; embeds only sentences not already cached for the language."""

    def __init__(self, encoder: Encoder, cache_dir: str | os.PathLike[str], dataset: str) -> None:
        self.encoder, self.dir, self.dataset = encoder, Path(cache_dir), dataset
        self.name = encoder.name
        self._memo: dict[str, dict[bytes, np.ndarray]] = {}
        self.hits = self.misses = 0

    def _load(self, lang: str) -> dict[bytes, np.ndarray]:
        if lang not in self._memo:
            table: dict[bytes, np.ndarray] = {}
            for path in sorted((self.dir / lang).glob("*.npz")):
                try:
                    with np.load(path) as z:
                        keys, rows = z["keys"], z["emb"]
                except (OSError, ValueError, KeyError) as exc:
                    logger.warning("ignoring unreadable cache file %s (%s)", path, exc)
                    continue
                table.update({bytes(k): r for k, r in zip(keys, rows)})
            self._memo[lang] = table
        return self._memo[lang]

    def _save(self, lang: str, new: dict[bytes, np.ndarray]) -> None:
        path = self.dir / lang / f"{self.dataset}.npz"
        old: dict[bytes, np.ndarray] = {}
        if path.exists():
            try:
                with np.load(path) as z:
                    old = {bytes(k): r for k, r in zip(z["keys"], z["emb"])}
            except (OSError, ValueError, KeyError):
                old = {}
        old.update(new)
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(old), dtype="S16")
        with atomic_open(path, "wb") as fh:
            np.savez(fh, keys=keys, emb=np.stack(list(old.values())).astype(np.float32))

    def encode(self, sentences: Sequence[str], lang: str) -> np.ndarray:
        table = self._load(lang)
        keys = [sentence_key(s) for s in sentences]
        missing = list(dict.fromkeys(k for k in keys if k not in table))
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            first = {k: s for s, k in zip(reversed(sentences), reversed(keys))}
            emb = np.asarray(self.encoder.encode([first[k] for k in missing], lang), dtype=np.float32)
            new = dict(zip(missing, emb))
            table.update(new)
            self._save(lang, new)
        if not keys:
            return self.encoder.encode([], lang)
        return np.stack([table[k] for k in keys])


def maybe_cached(encoder: Encoder, root: str | os.PathLike[str] | None, dataset: str) -> Encoder:
    """The encoder behind a cache when it has a fingerprint and a cache root is given."""
    fingerprint = getattr(encoder, "fingerprint", None)
    if root is None or not fingerprint or getattr(encoder, "cacheable", True) is False:
        return encoder
    return CachedEncoder(encoder, Path(root) / str(fingerprint), dataset)
