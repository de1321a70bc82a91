"""Embedding cache: sentences shared between datasets and runs are embedded once."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ems.encoders.tfidf import TfidfEncoder
from ems.evaluation.cache import CachedEncoder, maybe_cached


class Counting:
    name = "count"
    fingerprint = "fp1"

    def __init__(self):
        self.embedded: list[str] = []

    def encode(self, sentences, lang):
        self.embedded.extend(sentences)
        return np.stack([np.array([len(s), ord(s[0]), 1.0 if lang == "eng" else 0.0], dtype=np.float32) for s in sentences])


def test_cache_embeds_each_sentence_once_across_datasets_and_processes(tmp_path: Path):
    base = Counting()
    flores = maybe_cached(base, tmp_path, "flores")
    assert isinstance(flores, CachedEncoder)
    a = flores.encode(["hello", "world", "hello"], "eng")
    assert base.embedded == ["hello", "world"]
    np.testing.assert_array_equal(a[0], a[2])
    sib = CachedEncoder(base, tmp_path / "fp1", "sib200")  # a later task of the same model
    b = sib.encode(["world", "again"], "eng")
    assert base.embedded == ["hello", "world", "again"]
    np.testing.assert_array_equal(b[0], a[1])
    sib.encode(["world"], "deu")  # another language is another key
    assert base.embedded[-1] == "world"
    assert sorted(p.name for p in (tmp_path / "fp1" / "eng").iterdir()) == ["flores.npz", "sib200.npz"]
    assert sib.hits == 1 and sib.misses == 2


def test_uncacheable_or_fingerprintless_encoders_are_not_cached(tmp_path: Path):
    assert isinstance(maybe_cached(TfidfEncoder(), tmp_path, "x"), TfidfEncoder)
    base = Counting()
    base.fingerprint = None
    assert maybe_cached(base, tmp_path, "x") is base
    assert maybe_cached(Counting(), None, "x").__class__ is Counting
