"""The dev subset that model selection reads: a seeded sample of each language's validation pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ems.train.data import PairShards, Side
from ems.train.evaluate import dev_indices


def shards(lang: np.ndarray) -> PairShards:
    n = len(lang)
    side = Side(np.zeros(n, np.int32), np.arange(n + 1, dtype=np.int64), lang.astype(np.int16))
    return PairShards(side, side, {"n_pairs": n, "languages": ["deu", "fra"]}, Path("."))


def test_dev_indices_are_a_seeded_sample_of_each_language_not_its_head():
    lang = np.array([0] * 400 + [1] * 30)
    valid = shards(lang)
    idx = dev_indices(valid, 50)
    assert np.all(np.diff(idx) > 0)
    assert (lang[idx] == 0).sum() == 50 and (lang[idx] == 1).sum() == 30  # fewer than asked: all of them
    deu = idx[lang[idx] == 0]
    # spread over the language's validation rows (rows in file order would be 0..49)
    assert deu.max() > 300 and deu.min() < 100 and not np.array_equal(deu, np.arange(50))
    for quarter in range(4):  # each quarter of the rows gets about its share (12.5 of 50)
        assert 4 <= ((deu >= 100 * quarter) & (deu < 100 * (quarter + 1))).sum() <= 22
    assert np.array_equal(dev_indices(valid, 50), idx)  # the same subset at every evaluation
    assert np.array_equal(dev_indices(valid, None), np.arange(430))
