"""Margin retrieval and mining against a plain re-implementation of LASER's formulas.

The reference below follows LASER's ``source/xsim.py`` (``_score_knn`` + ``score_margin``) and
``source/mine_bitexts.py`` (``knn``, ``score_candidates``, ``--retrieval max|intersect``) line
by line with Python loops, brute-force k-NN standing in for faiss ``IndexFlatIP``.
"""

from __future__ import annotations

import numpy as np
import pytest

from ems.evaluation.mining import mine
from ems.evaluation.retrieval import RetrievalEvaluator, normalise, retrieval_accuracy


def ref_knn(x: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    sims = x @ y.T
    ind = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(sims, ind, axis=1), ind


def ref_score_candidates(x, y, cand, fwd_mean, bwd_mean):
    scores = np.zeros(cand.shape)
    for i in range(cand.shape[0]):
        for j in range(cand.shape[1]):
            kk = cand[i, j]
            scores[i, j] = x[i].dot(y[kk]) / ((fwd_mean[i] + bwd_mean[kk]) / 2)  # ratio margin
    return scores


def ref_xsim_errors(x: np.ndarray, y: np.ndarray, k: int = 4) -> int:
    """LASER xsim: index errors of margin retrieval x -> y over the k nearest candidates."""
    cos_xy, idx_xy = ref_knn(x, y, k)
    cos_yx, _ = ref_knn(y, x, k)
    scores = ref_score_candidates(x, y, idx_xy, cos_xy.mean(axis=1), cos_yx.mean(axis=1))
    best = scores.argmax(axis=1)
    closest = np.array([idx_xy[i, best[i]] for i in range(len(x))])
    return int(len(x) - (closest == np.arange(len(x))).sum())


def ref_mine(x: np.ndarray, y: np.ndarray, k: int, retrieval: str) -> dict[tuple[int, int], float]:
    """LASER mine_bitexts ``--mode mine`` (threshold 0: every candidate it would print)."""
    x2y_sim, x2y_ind = ref_knn(x, y, min(y.shape[0], k))
    y2x_sim, y2x_ind = ref_knn(y, x, min(x.shape[0], k))
    x2y_mean, y2x_mean = x2y_sim.mean(axis=1), y2x_sim.mean(axis=1)
    fwd_scores = ref_score_candidates(x, y, x2y_ind, x2y_mean, y2x_mean)
    bwd_scores = ref_score_candidates(y, x, y2x_ind, y2x_mean, x2y_mean)
    fwd_best = x2y_ind[np.arange(x.shape[0]), fwd_scores.argmax(axis=1)]
    bwd_best = y2x_ind[np.arange(y.shape[0]), bwd_scores.argmax(axis=1)]
    out: dict[tuple[int, int], float] = {}
    if retrieval == "intersect":
        for i, j in enumerate(fwd_best):
            if bwd_best[j] == i:
                out[(i, int(j))] = fwd_scores[i].max()
    elif retrieval == "max":
        indices = np.stack((np.concatenate((np.arange(x.shape[0]), bwd_best)),
                            np.concatenate((fwd_best, np.arange(y.shape[0])))), axis=1)
        scores = np.concatenate((fwd_scores.max(axis=1), bwd_scores.max(axis=1)))
        seen_src, seen_trg = set(), set()
        for i in np.argsort(-scores):
            src_ind, trg_ind = indices[i]
            if src_ind not in seen_src and trg_ind not in seen_trg:
                seen_src.add(src_ind)
                seen_trg.add(trg_ind)
                out[(int(src_ind), int(trg_ind))] = scores[i]
    return out


def hubby(n: int, seed: int, noise: float = 0.8, n_hubs: int = 5, dim: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Noisy translations clustered around a few hub directions (margin beats cosine here)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, dim))
    hub = (rng.normal(size=(n_hubs, dim)) * 2.0)[rng.integers(0, n_hubs, n)]
    x = base + noise * rng.normal(size=(n, dim)) + hub
    y = base + noise * rng.normal(size=(n, dim)) + hub
    return normalise(x), normalise(y)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_margin_accuracy_equals_laser_xsim(seed):
    x, y = hubby(300, seed)
    fwd, bwd = retrieval_accuracy(x, y, margin=True, k=4)
    assert fwd == pytest.approx(1 - ref_xsim_errors(x, y) / len(x))
    assert bwd == pytest.approx(1 - ref_xsim_errors(y, x) / len(y))
    assert 0.5 < fwd < 0.95  # neither trivial nor hopeless
    assert fwd > retrieval_accuracy(x, y)[0]  # margin beats cosine on hubby data


def test_exhaustive_margin_is_a_different_method_kept_under_its_own_name():
    diffs = 0
    for seed in range(3):
        x, y = hubby(300, seed)
        diffs += retrieval_accuracy(x, y, True, 4) != retrieval_accuracy(x, y, True, 4, candidates="all")
    assert diffs > 0  # the two candidate sets give other answers on this data
    ev = RetrievalEvaluator("t", {"deu": (["a"], ["b"])}, margin="exhaustive")
    assert (ev.margin, ev.candidates) == (True, "all")
    ev = RetrievalEvaluator("t", {"deu": (["a"], ["b"])}, margin=True)
    assert (ev.margin, ev.candidates) == (True, "knn")


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("mode, retrieval", [("max", "max"), ("intersection", "intersect")])
def test_mined_pairs_equal_laser_mine_bitexts(seed, mode, retrieval):
    x, y = hubby(250, seed)
    # unequal sides, as in mining: extra unaligned target sentences
    y = np.concatenate([y, hubby(60, seed + 10)[1]])
    i, j, s = mine(x, y, k=4, mode=mode)
    ours = {(a, b): float(v) for a, b, v in zip(i.tolist(), j.tolist(), s.tolist())}
    ref = ref_mine(x, y, 4, retrieval)
    assert set(ours) == set(ref)
    for key, v in ref.items():
        assert ours[key] == pytest.approx(v, rel=1e-5)


def test_max_mode_keeps_each_sentence_once_and_union_does_not():
    x, y = hubby(250, 3)
    i, j, _ = mine(x, y, k=4, mode="max")
    assert len(set(i.tolist())) == len(i) and len(set(j.tolist())) == len(j)
    iu, _, _ = mine(x, y, k=4, mode="union")
    assert len(iu) > len(i)
    assert len(set(iu.tolist())) < len(iu)
