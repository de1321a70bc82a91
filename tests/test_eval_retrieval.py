"""Retrieval evaluators on toy embeddings whose answers are known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ems.errors import ConfigError, DataError
from ems.evaluation.flores import build_flores
from ems.evaluation.retrieval import (
    RetrievalEvaluator,
    knn_mean,
    nearest,
    normalise,
    retrieval_accuracy,
)
from ems.evaluation.tatoeba import build_tatoeba, xtreme36


class TableEncoder:
    """Looks sentences up in a table of vectors; counts calls per language."""

    name = "table"
    fingerprint = None

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table
        self.calls: list[tuple[str, int]] = []

    def encode(self, sentences, lang):
        self.calls.append((lang, len(sentences)))
        return np.stack([self.table[s] for s in sentences]).astype(np.float32)


def random_unit(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    return normalise(np.random.default_rng(seed).normal(size=(n, d)))


def test_perfect_alignment_scores_one():
    e = random_unit(40)
    assert retrieval_accuracy(e, e.copy()) == (1.0, 1.0)
    assert retrieval_accuracy(e, e.copy(), margin=True, k=4) == (1.0, 1.0)


def test_shuffled_targets_score_the_fixed_points_of_the_permutation():
    e = random_unit(60, seed=1)
    perm = np.random.default_rng(2).permutation(60)
    expected = float((perm == np.arange(60)).mean())
    fwd, bwd = retrieval_accuracy(e, e[perm])
    assert fwd == pytest.approx(expected) and bwd == pytest.approx(expected)
    assert expected < 0.2


def test_one_swapped_pair_costs_two_of_n():
    e = random_unit(25, seed=3)
    swapped = e.copy()
    swapped[[3, 7]] = swapped[[7, 3]]
    assert retrieval_accuracy(e, swapped) == (pytest.approx(23 / 25), pytest.approx(23 / 25))


def _unit(deg: float) -> np.ndarray:
    return np.array([math.cos(math.radians(deg)), math.sin(math.radians(deg))], dtype=np.float32)


def test_ratio_margin_matches_a_hand_computed_case_and_defeats_a_hub():
    # x0 at 0°, x1 at 55°; y0 at 30° is a hub (closest to both x), y1 at 90°.
    x = np.stack([_unit(0), _unit(55)])
    y = np.stack([_unit(30), _unit(90)])
    c = lambda deg: math.cos(math.radians(deg))
    # cosine: both pick the hub y0
    idx, _ = nearest(x, y)
    assert idx.tolist() == [0, 0]
    # k = 2 (all neighbours): knn means by hand
    kx = [(c(30) + c(90)) / 2, (c(25) + c(35)) / 2]
    ky = [(c(30) + c(25)) / 2, (c(90) + c(35)) / 2]
    np.testing.assert_allclose(knn_mean(x, y, 2), kx, rtol=1e-5)
    np.testing.assert_allclose(knn_mean(y, x, 2), ky, rtol=1e-5)
    m_x1_y0 = c(25) / ((kx[1] + ky[0]) / 2)
    m_x1_y1 = c(35) / ((kx[1] + ky[1]) / 2)
    assert m_x1_y1 > m_x1_y0  # the margin prefers the non-hub
    idx, score = nearest(x, y, margin=True, k=2)
    assert idx.tolist() == [0, 1]
    assert score[1] == pytest.approx(m_x1_y1, rel=1e-5)
    assert score[0] == pytest.approx(c(30) / ((kx[0] + ky[0]) / 2), rel=1e-5)


def _toy_data(langs, n=20, shuffle_lang=None):
    table, data = {}, {}
    eng = [f"en{i}" for i in range(n)]
    base = random_unit(n, seed=5)
    for i, s in enumerate(eng):
        table[s] = base[i]
    for li, lang in enumerate(langs):
        xx = [f"{lang}{i}" for i in range(n)]
        noise = random_unit(n, seed=10 + li) * 0.05
        vecs = base + noise
        if lang == shuffle_lang:
            vecs = vecs[::-1]
        for i, s in enumerate(xx):
            table[s] = vecs[i]
        data[lang] = (xx, eng)
    return TableEncoder(table), data


def test_evaluator_metrics_subsets_and_shared_english_embedded_once():
    enc, data = _toy_data(["deu", "fra", "kab"], shuffle_lang="kab")
    ev = RetrievalEvaluator("toy", data, subsets={"seen": ["deu", "kab"], "none": ["xyz"]})
    res = ev(enc)
    assert res.primary_metric == "toy/acc_mean"
    assert res.metrics["toy/deu/acc_xx2en"] == 1.0 and res.metrics["toy/fra/acc_en2xx"] == 1.0
    assert res.metrics["toy/kab/acc_xx2en"] == 0.0  # reversed order, n even: no fixed point
    assert res.metrics["toy/acc_mean"] == pytest.approx(2 / 3)
    assert res.metrics["toy/acc_mean_seen"] == pytest.approx(0.5)
    assert res.metrics["toy/n_languages_seen"] == 2
    assert "toy/acc_mean_none" not in res.metrics and res.metrics["toy/n_languages_none"] == 0
    assert [c for c in enc.calls if c[0] == "eng"] == [("eng", 20)]  # English once for 3 languages
    assert {r["lang"] for r in res.rows} == {"deu", "fra", "kab"}


def test_flores_builder_languages_skips_and_errors():
    enc, data = _toy_data(["deu", "fra"])
    flores = {"eng": data["deu"][1], "deu": data["deu"][0], "fra": data["fra"][0]}
    ev = build_flores("unused", ["deu", "fra", "zul"], data=flores, on_missing="skip")
    res = ev(enc)
    assert res.skipped == [{"lang": "zul", "reason": "not in the dataset"}]
    assert res.metrics["flores/n_languages"] == 2
    with pytest.raises(DataError, match="zul"):
        build_flores("unused", ["deu", "zul"], data=flores, on_missing="error")
    with pytest.raises(ConfigError, match="train"):
        build_flores("unused", "train", train_languages=None, data=flores)
    ev = build_flores("unused", "train", train_languages=["eng", "deu"], data=flores)
    assert list(ev.data) == ["deu"] and ev.subsets["seen"] == ["deu"]


def test_tatoeba_bad_inputs_are_errors_or_logged_skips(caplog):
    _enc, data = _toy_data(["deu", "fra"])
    ragged = {"deu": data["deu"], "fra": (data["fra"][0][:-1], data["fra"][1])}
    with pytest.raises(DataError, match="fra"):
        build_tatoeba("unused", "all", data=ragged)
    empty = {"deu": data["deu"], "fra": ([], [])}
    with pytest.raises(DataError, match="fra"):
        build_tatoeba("unused", "all", data=empty, on_missing="error")
    ev = build_tatoeba("unused", "all", data=empty, on_missing="skip")
    assert ev.skipped == [{"lang": "fra", "reason": "no sentence pairs"}]
    assert "skipping language fra" in caplog.text
    with pytest.raises(DataError, match="no languages"):
        build_tatoeba("unused", ["zul"], data=empty, on_missing="skip")


def test_xtreme36_is_36_distinct_canonical_codes():
    codes = xtreme36()
    assert len(set(codes)) == 36 and "cmn_Hans" in codes and "arb_Arab" in codes and "eng" not in codes
