"""Bitext retrieval by nearest neighbour: cosine, or LASER's ratio margin ("xsim").

Artetxe & Schwenk (2019), "Margin-based parallel corpus mining with multilingual sentence
embeddings": margin(x, y) = cos(x, y) / (Σ_{z∈NN_k(x)} cos(x, z)/2k + Σ_{z∈NN_k(y)} cos(y, z)/2k).
As LASER (``source/xsim.py``, ``source/mine_bitexts.py``), only the ``k`` cosine-nearest
candidates of each query are scored by margin and the best of them is retrieved
(``candidates="knn"``, the default). ``candidates="all"`` (config ``margin: exhaustive``)
takes the margin argmax over every target instead: not LASER, kept under its own name.
Accuracy is the share of source sentences whose nearest target is the gold target at the same
index (strict index match, as LASER's xsim without textual matching), in both directions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ems.encoders.base import Encoder
from ems.errors import ConfigError, DataError
from ems.evaluation.result import EvalResult, finite, mean

logger = logging.getLogger(__name__)

BLOCK = 2048
CANDIDATES = ("knn", "all")


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def knn(x: np.ndarray, y: np.ndarray, k: int, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """Cosines ``(n, k)`` and indices ``(n, k)`` of each row's ``k`` nearest rows of ``y``, best first
    (k capped at len(y); ties broken by the lower index, as an exact inner-product search)."""
    k = min(k, len(y))
    sims_out = np.empty((len(x), k), dtype=np.float32)
    idx_out = np.empty((len(x), k), dtype=np.int64)
    for s in range(0, len(x), block):
        sims = x[s:s + block] @ y.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else np.tile(np.arange(k), (len(sims), 1))
        top_s = np.take_along_axis(sims, top, axis=1)
        order = np.lexsort((top, -top_s), axis=1)  # by cosine descending, then index
        idx_out[s:s + block] = np.take_along_axis(top, order, axis=1)
        sims_out[s:s + block] = np.take_along_axis(top_s, order, axis=1)
    return sims_out, idx_out


def knn_mean(x: np.ndarray, y: np.ndarray, k: int, block: int = BLOCK) -> np.ndarray:
    """For each row of ``x``, the mean cosine to its ``k`` nearest rows of ``y`` (k capped at len(y))."""
    return knn(x, y, k, block)[0].mean(axis=1)


def check_candidates(candidates: str) -> None:
    """Fail on a margin-candidates value other than those of :data:`CANDIDATES`."""
    if candidates not in CANDIDATES:
        raise ConfigError(f"margin candidates must be one of {CANDIDATES}, not {candidates!r}")


def margin_mode(margin: bool | str) -> tuple[bool, str]:
    """``(use margin, candidates)`` of a config value: false, true (LASER: k candidates) or "exhaustive"."""
    if margin is True or margin is False:
        return bool(margin), "knn"
    if margin == "exhaustive":
        return True, "all"
    raise ConfigError(f"margin must be true, false or 'exhaustive', not {margin!r}")


def nearest(x: np.ndarray, y: np.ndarray, margin: bool = False, k: int = 4,
            x_knn: np.ndarray | None = None, y_knn: np.ndarray | None = None,
            block: int = BLOCK, candidates: str = "knn",
            top: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Index and score of the best ``y`` for each ``x`` (unit-norm rows), by cosine or ratio margin.

    With ``margin``, ``candidates="knn"`` scores the ``k`` cosine-nearest ``y`` of each ``x`` (LASER)
    and ``"all"`` every ``y``. ``x_knn``/``y_knn`` (k-NN mean similarities of x→y and y→x) and
    ``top`` (:func:`knn` of x in y) may be passed to reuse them: the k-NN search is the costly part.
    """
    if len(x) == 0 or len(y) == 0:
        raise DataError("retrieval over an empty set")
    check_candidates(candidates)
    idx = np.empty(len(x), dtype=np.int64)
    score = np.empty(len(x), dtype=np.float32)
    if margin and candidates == "knn":
        cos, cand = knn(x, y, k, block) if top is None else top
        x_knn = cos.mean(axis=1) if x_knn is None else x_knn
        y_knn = knn_mean(y, x, k, block) if y_knn is None else y_knn
        scores = cos / np.maximum((x_knn[:, None] + y_knn[cand]) / 2, 1e-12)
        best = scores.argmax(axis=1)
        rows = np.arange(len(x))
        return cand[rows, best], scores[rows, best].astype(np.float32)
    if margin:
        x_knn = knn_mean(x, y, k, block) if x_knn is None else x_knn
        y_knn = knn_mean(y, x, k, block) if y_knn is None else y_knn
    for s in range(0, len(x), block):
        sims = x[s:s + block] @ y.T
        if margin:
            sims = sims / np.maximum((x_knn[s:s + block, None] + y_knn[None, :]) / 2, 1e-12)
        best = sims.argmax(axis=1)
        idx[s:s + block] = best
        score[s:s + block] = sims[np.arange(len(best)), best]
    return idx, score


def retrieval_accuracy(xx: np.ndarray, en: np.ndarray, margin: bool = False, k: int = 4,
                       candidates: str = "knn") -> tuple[float, float]:
    """Accuracy xx→en and en→xx of line-aligned embeddings (gold = same index)."""
    if len(xx) != len(en):
        raise DataError(f"retrieval: {len(xx)} source rows but {len(en)} target rows")
    x, y = normalise(xx), normalise(en)
    gold = np.arange(len(x))
    if margin:
        fwd, _, bwd, _ = margin_both_ways(x, y, k, candidates)
    else:
        fwd, _ = nearest(x, y, candidates=candidates)
        bwd, _ = nearest(y, x, candidates=candidates)
    return float((fwd == gold).mean()), float((bwd == gold).mean())


def margin_both_ways(x: np.ndarray, y: np.ndarray, k: int = 4,
                     candidates: str = "knn") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best match and ratio-margin score x→y and y→x (unit-norm rows), each k-NN search done once."""
    check_candidates(candidates)
    top_xy, top_yx = knn(x, y, k), knn(y, x, k)
    x_knn, y_knn = top_xy[0].mean(axis=1), top_yx[0].mean(axis=1)
    reuse = candidates == "knn"
    fwd, fwd_s = nearest(x, y, True, k, x_knn, y_knn, candidates=candidates, top=top_xy if reuse else None)
    bwd, bwd_s = nearest(y, x, True, k, y_knn, x_knn, candidates=candidates, top=top_yx if reuse else None)
    return fwd, fwd_s, bwd, bwd_s


class RetrievalEvaluator:
    """Retrieval accuracy per language of X–English line-aligned sets, both directions.

    ``subsets`` names groups of languages whose means are reported too (``_xtreme36``,
    ``_seen``); a subset mean covers the evaluated languages of the group and its size is
    reported beside it (``n_languages_<subset>``).
    """

    def __init__(self, task: str, data: Mapping[str, tuple[Sequence[str], Sequence[str]]], margin: bool | str = False,
                 k: int = 4, subsets: Mapping[str, Sequence[str]] | None = None,
                 skipped: list[dict[str, str]] | None = None, params: Mapping[str, Any] | None = None) -> None:
        if not data:
            raise DataError(f"{task}: no languages to evaluate")
        for lang, (xx, en) in data.items():
            if len(xx) != len(en):
                raise DataError(f"{task}: language {lang}: {len(xx)} sentences but {len(en)} English sentences")
            if not xx:
                raise DataError(f"{task}: language {lang}: no sentences")
        self.margin, self.candidates = margin_mode(margin)
        self.task, self.data, self.k = task, dict(data), k
        self.subsets = {name: [lang for lang in langs if lang in self.data] for name, langs in (subsets or {}).items()}
        self.skipped = list(skipped or [])
        self.params = dict(params or {})

    def __call__(self, encoder: Encoder, progress: Callable[[str], None] | None = None) -> EvalResult:
        p = self.task
        english: dict[tuple[str, ...], np.ndarray] = {}  # English side shared by languages: embedded once
        rows = []
        for lang in sorted(self.data):
            xx, en = self.data[lang]
            key = tuple(en)
            if key not in english:
                english[key] = encoder.encode(list(en), "eng")
            x_emb = encoder.encode(list(xx), lang)
            a_xe, a_ex = retrieval_accuracy(x_emb, english[key], self.margin, self.k, self.candidates)
            rows.append({"lang": lang, "n": len(xx), "acc_xx2en": a_xe, "acc_en2xx": a_ex,
                         "acc_mean": (a_xe + a_ex) / 2})
            logger.info("%s %s: xx→en %.4f en→xx %.4f (n=%d)", p, lang, a_xe, a_ex, len(xx))
            if progress:
                progress(lang)
        by_lang = {r["lang"]: r for r in rows}
        metrics: dict[str, float] = {}
        groups = {"": sorted(by_lang)} | {f"_{name}": langs for name, langs in self.subsets.items()}
        for suffix, langs in groups.items():
            metrics[f"{p}/n_languages{suffix}"] = float(len(langs))
            if not langs:
                logger.warning("%s: no evaluated language in subset %s; its mean is not reported", p, suffix[1:])
                continue
            for m in ("acc_xx2en", "acc_en2xx", "acc_mean"):
                metrics[f"{p}/{m}{suffix}"] = mean(by_lang[lang][m] for lang in langs)
        for r in rows:
            for m in ("acc_xx2en", "acc_en2xx", "acc_mean"):
                metrics[f"{p}/{r['lang']}/{m}"] = r[m]
        finite(metrics, p)
        scoring = "cosine" if not self.margin else "ratio_margin" if self.candidates == "knn" else "ratio_margin_exhaustive"
        params = {"scoring": scoring, "k": self.k if self.margin else None,
                  "directions": "xx2en,en2xx", "match": "index", **self.params}
        return EvalResult(p, f"{p}/acc_mean", metrics, rows, params, self.skipped)
