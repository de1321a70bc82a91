"""BUCC-style mining: threshold sweep, margin mining, corpus construction, BUCC 2018 reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ems.errors import DataError
from ems.evaluation.bucc import load_bucc
from ems.evaluation.mining import (
    MiningEvaluator,
    MiningSplit,
    build_bucc_style,
    mine,
    prf_at,
    sweep_threshold,
)
from ems.evaluation.retrieval import normalise


def test_threshold_sweep_on_a_tiny_gold_set():
    # 6 candidates, 4 gold pairs in all (one gold pair never proposed).
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    correct = np.array([True, True, False, True, False, False])
    # cut after rank r: tp = 1,2,2,3,3,3; P = tp/r; R = tp/4
    # F1 = 2PR/(P+R): r1 .400, r2 .667, r3 .571, r4 .750, r5 .667, r6 .600 -> best r4, t = 0.6
    thr, p, r, f1 = sweep_threshold(scores, correct, n_gold=4)
    assert thr == 0.6 and p == pytest.approx(0.75) and r == pytest.approx(0.75) and f1 == pytest.approx(0.75)
    assert prf_at(scores, correct, 4, 0.6) == pytest.approx((0.75, 0.75, 0.75))
    assert prf_at(scores, correct, 4, 0.85) == pytest.approx((1.0, 0.25, 0.4))
    assert prf_at(scores, correct, 4, 2.0) == (0.0, 0.0, 0.0)


def test_threshold_sweep_keeps_ties_together():
    scores = np.array([0.9, 0.5, 0.5])
    correct = np.array([True, True, False])
    # cutting between the tied 0.5s is impossible: options are {0.9} (F1 .667) or all (P 2/3, R 1, F1 .8)
    thr, _p, _r, f1 = sweep_threshold(scores, correct, n_gold=2)
    assert thr == 0.5 and f1 == pytest.approx(0.8)


def test_sweep_without_gold_is_an_error():
    with pytest.raises(DataError):
        sweep_threshold(np.array([0.5]), np.array([True]), n_gold=0)


def _toy(n_gold=30, n_dx=40, n_de=40, d=48, seed=0):
    rng = np.random.default_rng(seed)
    base = normalise(rng.normal(size=(n_gold, d)))
    xx = np.concatenate([base + 0.05 * rng.normal(size=base.shape), rng.normal(size=(n_dx, d))])
    en = np.concatenate([base, rng.normal(size=(n_de, d))])
    return xx, en


def test_mining_finds_the_hidden_pairs_intersection_and_max():
    xx, en = _toy()
    i, j, s = mine(xx, en, k=4, mode="intersection")
    gold = {(g, g) for g in range(30)}
    found = set(zip(i.tolist(), j.tolist()))
    assert gold <= found  # every gold pair is a mutual best match
    correct = np.array([p in gold for p in zip(i.tolist(), j.tolist())])
    _thr, p, r, f1 = sweep_threshold(s, correct, 30)
    assert f1 == 1.0 and p == 1.0 and r == 1.0
    im, jm, _ = mine(xx, en, k=4, mode="max")
    assert found <= set(zip(im.tolist(), jm.tolist()))
    assert len(im) >= len(i)


def test_bucc_style_corpus_hides_gold_pairs_among_distractors():
    pairs = [(f"x{i}", f"e{i}") for i in range(10)]
    split = build_bucc_style(pairs, [f"dx{i}" for i in range(5)] + ["x3"], [f"de{i}" for i in range(7)], seed=3)
    assert len(split.xx) == 15 and len(split.en) == 17  # "x3" dropped: it equals a gold sentence
    assert {(split.xx[i], split.en[j]) for i, j in split.gold} == set(pairs)
    assert split.xx[:10] != [a for a, _ in pairs]  # shuffled
    again = build_bucc_style(pairs, [f"dx{i}" for i in range(5)], [f"de{i}" for i in range(7)], seed=3)
    assert again.xx == build_bucc_style(pairs, [f"dx{i}" for i in range(5)], [f"de{i}" for i in range(7)], seed=3).xx


class VecEncoder:
    name = "vec"

    def __init__(self, table):
        self.table = table

    def encode(self, sentences, lang):
        return np.stack([self.table[s] for s in sentences])


def test_mining_evaluator_threshold_from_train_reported_on_test():
    table = {}
    splits = {}
    for name, seed in (("train", 1), ("test", 2)):
        xx, en = _toy(seed=seed)
        xs = [f"{name}-x{i}" for i in range(len(xx))]
        es = [f"{name}-e{i}" for i in range(len(en))]
        table |= dict(zip(xs, xx)) | dict(zip(es, en))
        splits[name] = MiningSplit(xs, es, {(g, g) for g in range(30)})
    enc = VecEncoder(table)
    res = MiningEvaluator("mining", {"deu": splits})(enc)
    assert res.primary_metric == "mining/f1"
    # by hand: the threshold of the train sweep, applied to the test candidates
    cands = {}
    for name in ("train", "test"):
        i, j, s = mine(enc.encode(splits[name].xx, "deu"), enc.encode(splits[name].en, "eng"), 4, "intersection")
        cands[name] = (s, np.array([(a, b) in splits[name].gold for a, b in zip(i.tolist(), j.tolist())]))
    thr = sweep_threshold(*cands["train"], 30)[0]
    p, _r, f1 = prf_at(*cands["test"], 30, thr)
    assert res.metrics["mining/deu/threshold"] == thr
    assert res.metrics["mining/deu/f1"] == pytest.approx(f1) and res.metrics["mining/f1"] == pytest.approx(f1)
    assert res.metrics["mining/deu/precision"] == pytest.approx(p) and 0.9 < f1 <= 1.0
    assert res.params["threshold_from"] == "train"
    with pytest.raises(DataError, match="no gold"):
        MiningEvaluator("mining", {"deu": {"train": splits["train"], "test": MiningSplit(["a"], ["b"], set())}})


def test_bucc2018_reader(tmp_path: Path):
    (tmp_path / "de-en.sample.de").write_text("de-1\tHallo Welt\nde-2\tGuten Tag\n", encoding="utf-8")
    (tmp_path / "de-en.sample.en").write_text("en-1\tGood day\nen-2\tHello world\nen-3\tNoise\n", encoding="utf-8")
    (tmp_path / "de-en.sample.gold").write_text("de-1\ten-2\nde-2\ten-1\n", encoding="utf-8")
    split = load_bucc(tmp_path, "de", "sample")
    assert {(split.xx[i], split.en[j]) for i, j in split.gold} == {("Hallo Welt", "Hello world"), ("Guten Tag", "Good day")}
    (tmp_path / "de-en.sample.gold").write_text("de-1\ten-9\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 1"):
        load_bucc(tmp_path, "de", "sample")
    (tmp_path / "de-en.sample.de").write_text("no tab here\n", encoding="utf-8")
    with pytest.raises(DataError, match="de-en.sample.de, line 1"):
        load_bucc(tmp_path, "de", "sample")
