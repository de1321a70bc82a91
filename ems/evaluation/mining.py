"""BUCC-style bitext mining (Zweigenbaum et al. 2017/2018 protocol) built from held-out WMT newstest sets.

No BUCC data is redistributable here, so each language gets two BUCC-style corpora: the gold
pairs of one newstest set hidden among *unaligned* sentences of other held-out sets on each
side, shuffled with a seed. Candidates are mined as LASER's ``mine_bitexts.py`` (Artetxe &
Schwenk 2019): ratio margin over the k cosine-nearest candidates, both directions, kept by
their intersection or greedily one-to-one by score ("max"); the F1-maximising threshold is
chosen on the ``train`` corpus and precision, recall and F1 at that threshold are reported on
the ``test`` corpus. Real BUCC 2018 files are read
by :mod:`ems.evaluation.bucc` into the same :class:`MiningSplit`.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ems.datasets import load_newstest
from ems.encoders.base import Encoder
from ems.errors import ConfigError, DataError
from ems.evaluation.result import EvalResult, Skips, finite, mean
from ems.evaluation.retrieval import margin_both_ways, normalise

logger = logging.getLogger(__name__)


@dataclass
class MiningSplit:
    """One mining corpus: two monolingual sides and the gold (xx index, en index) pairs."""

    xx: list[str]
    en: list[str]
    gold: set[tuple[int, int]]

    def check(self, where: str) -> None:
        if not self.xx or not self.en:
            raise DataError(f"{where}: empty side ({len(self.xx)} xx, {len(self.en)} English sentences)")
        if not self.gold:
            raise DataError(f"{where}: no gold pairs")
        bad = [(i, j) for i, j in self.gold if not (0 <= i < len(self.xx) and 0 <= j < len(self.en))]
        if bad:
            raise DataError(f"{where}: gold pair(s) out of range, e.g. {bad[0]}")


MODES = ("intersection", "max", "union")


def mine(x: np.ndarray, y: np.ndarray, k: int = 4, mode: str = "intersection",
         candidates: str = "knn") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs ``(i, j, margin)`` from forward and backward best matches by ratio margin.

    As LASER's ``mine_bitexts.py`` (``candidates="knn"``: the best of the k cosine-nearest):
    ``intersection`` keeps the pairs both directions agree on; ``max`` sorts the forward and
    backward matches together by score and keeps a pair only while neither its source nor its
    target sentence has been kept (greedy one-to-one). ``union`` (not LASER) keeps every
    forward and backward pair once. The threshold is applied later, on the returned scores.
    """
    if mode not in MODES:
        raise ConfigError(f"evaluation.mining.mode must be one of {', '.join(MODES)}, not {mode!r}")
    x, y = normalise(x), normalise(y)
    fwd, fwd_s, bwd, bwd_s = margin_both_ways(x, y, k, candidates)
    pairs: dict[tuple[int, int], float] = {}
    if mode == "intersection":
        for i, j in enumerate(fwd):
            if bwd[j] == i:
                pairs[(i, int(j))] = float(fwd_s[i])
    elif mode == "max":
        src = np.concatenate([np.arange(len(x)), bwd])
        tgt = np.concatenate([fwd, np.arange(len(y))])
        scores = np.concatenate([fwd_s, bwd_s]).astype(np.float64)
        seen_src: set[int] = set()
        seen_tgt: set[int] = set()
        for n in np.argsort(-scores, kind="stable"):
            i, j = int(src[n]), int(tgt[n])
            if i not in seen_src and j not in seen_tgt:
                seen_src.add(i)
                seen_tgt.add(j)
                pairs[(i, j)] = float(scores[n])
    else:
        for i, j in enumerate(fwd):
            pairs[(i, int(j))] = float(fwd_s[i])
        for j, i in enumerate(bwd):
            pairs.setdefault((int(i), j), float(bwd_s[j]))
    if not pairs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    keys = list(pairs)
    return (np.array([a for a, _ in keys]), np.array([b for _, b in keys]),
            np.array([pairs[key] for key in keys], dtype=np.float64))


THRESHOLDS = ("best", "midpoint")


def sweep_threshold(scores: np.ndarray, correct: np.ndarray, n_gold: int,
                    placement: str = "best") -> tuple[float, float, float, float]:
    """The threshold (predict pairs with score ≥ t) that maximises F1, with its P, R, F1.

    Ties are kept together: only cuts between distinct scores are considered. ``placement``
    ``best``: the threshold is the lowest kept score; ``midpoint``: half-way to the next score
    below it (LASER ``tasks/bucc/bucc.py`` ``BuccOptimize``), so a test score just under the
    last kept train score still counts.
    """
    if n_gold <= 0:
        raise DataError("threshold sweep without gold pairs")
    if len(scores) == 0:
        return float("inf"), 0.0, 0.0, 0.0
    order = np.argsort(-scores, kind="stable")
    s, c = scores[order], correct[order].astype(np.float64)
    tp = np.cumsum(c)
    predicted = np.arange(1, len(s) + 1)
    last_of_tie = np.r_[s[1:] != s[:-1], True]
    precision, recall = tp / predicted, tp / n_gold
    f1 = np.where(tp > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    f1 = np.where(last_of_tie, f1, -1.0)
    best = int(np.argmax(f1))
    threshold = float(s[best])
    if placement == "midpoint" and best + 1 < len(s):
        threshold = (threshold + float(s[best + 1])) / 2
    return threshold, float(precision[best]), float(recall[best]), float(max(f1[best], 0.0))


def prf_at(scores: np.ndarray, correct: np.ndarray, n_gold: int, threshold: float) -> tuple[float, float, float]:
    """Precision, recall and F1 of the candidates scoring at least ``threshold``."""
    keep = scores >= threshold
    tp = float(correct[keep].sum())
    p = tp / keep.sum() if keep.any() else 0.0
    r = tp / n_gold
    return p, r, (2 * p * r / (p + r) if p + r > 0 else 0.0)


def build_bucc_style(pairs: Sequence[tuple[str, str]], distractor_xx: Sequence[str], distractor_en: Sequence[str],
                     seed: int) -> MiningSplit:
    """Hide gold ``pairs`` among distractor sentences on each side and shuffle both sides.

    Distractors equal to a gold sentence of their side are dropped (they would make the gold
    ambiguous); the caller guarantees the two distractor lists are not translations of each other.
    """
    gold_xx = {a for a, _ in pairs}
    gold_en = {b for _, b in pairs}
    xx = [a for a, _ in pairs] + [s for s in dict.fromkeys(distractor_xx) if s not in gold_xx]
    en = [b for _, b in pairs] + [s for s in dict.fromkeys(distractor_en) if s not in gold_en]
    rng = random.Random(seed)
    px, pe = list(range(len(xx))), list(range(len(en)))
    rng.shuffle(px)
    rng.shuffle(pe)
    inv_x = {old: new for new, old in enumerate(px)}
    inv_e = {old: new for new, old in enumerate(pe)}
    return MiningSplit([xx[i] for i in px], [en[i] for i in pe], {(inv_x[n], inv_e[n]) for n in range(len(pairs))})


def _unique_pairs(xx: Sequence[str], en: Sequence[str]) -> list[tuple[str, str]]:
    seen_x: set[str] = set()
    seen_e: set[str] = set()
    out = []
    for a, b in zip(xx, en):
        if a.strip() and b.strip() and a not in seen_x and b not in seen_e:
            seen_x.add(a)
            seen_e.add(b)
            out.append((a, b))
    return out


def build_newstest_mining(source_dir: str | os.PathLike[str], lang: str, sets: Mapping[str, object],
                          distractors_per_side: int, seed: int) -> dict[str, MiningSplit]:
    """The ``train`` and ``test`` BUCC-style corpora of one language from newstest sets.

    Distractor pairs (all ``distractors`` sets, de-duplicated, shuffled with ``seed``) are cut
    into four disjoint quarters: train-xx, train-en, test-xx, test-en. A distractor's
    translation is therefore never in the corpus, and the two corpora share no sentence.
    """
    names = {"train": sets["train"], "test": sets["test"]}
    if names["train"] == names["test"]:
        raise ConfigError(f"mining.languages.{lang}: train and test must be different sets")
    distractors = list(sets.get("distractors", []) or [])  # type: ignore[union-attr]
    overlap = set(distractors) & set(names.values())
    if overlap:
        raise ConfigError(f"mining.languages.{lang}: {sorted(overlap)} is both gold and distractor")
    gold = {split: _unique_pairs(*load_newstest(source_dir, lang, str(name))) for split, name in names.items()}
    pool: list[tuple[str, str]] = []
    for name in distractors:
        pool.extend(_unique_pairs(*load_newstest(source_dir, lang, str(name))))
    pool = _unique_pairs([a for a, _ in pool], [b for _, b in pool])
    random.Random(seed).shuffle(pool)
    quarter = min(distractors_per_side, len(pool) // 4)
    if distractors and quarter < distractors_per_side:
        logger.warning("mining %s: %d distractor pairs give %d distractors per side and corpus (asked %d)",
                       lang, len(pool), quarter, distractors_per_side)
    q = [pool[i * quarter:(i + 1) * quarter] for i in range(4)]
    out = {}
    for n, split in enumerate(("train", "test")):
        xx_d = [a for a, _ in q[2 * n]]
        en_d = [b for _, b in q[2 * n + 1]]
        out[split] = build_bucc_style(gold[split], xx_d, en_d, seed + n)
        out[split].check(f"mining {lang} {split} ({names[split]})")
    return out


class MiningEvaluator:
    """Precision/recall/F1 of margin-based mining per language; threshold chosen on ``train``."""

    def __init__(self, task: str, data: Mapping[str, Mapping[str, MiningSplit]], k: int = 4,
                 mode: str = "intersection", skipped: list[dict[str, str]] | None = None,
                 params: Mapping[str, object] | None = None, candidates: str = "knn",
                 threshold: str = "best") -> None:
        if not data:
            raise DataError(f"{task}: no languages to evaluate")
        for lang, splits in data.items():
            for split in ("train", "test"):
                if split not in splits:
                    raise DataError(f"{task}: language {lang} has no {split} corpus")
                splits[split].check(f"{task} {lang} {split}")
        if mode not in MODES:
            raise ConfigError(f"evaluation.mining.mode must be one of {', '.join(MODES)}, not {mode!r}")
        if threshold not in THRESHOLDS:
            raise ConfigError(f"evaluation.mining.threshold must be one of {', '.join(THRESHOLDS)}, not {threshold!r}")
        self.threshold = threshold
        self.task, self.data, self.k, self.mode, self.candidates = task, data, k, mode, candidates
        self.skipped = list(skipped or [])
        self.params = dict(params or {})

    def _candidates(self, encoder: Encoder, lang: str, split: MiningSplit) -> tuple[np.ndarray, np.ndarray]:
        i, j, s = mine(encoder.encode(split.xx, lang), encoder.encode(split.en, "eng"), self.k, self.mode,
                       self.candidates)
        correct = np.array([(a, b) in split.gold for a, b in zip(i.tolist(), j.tolist())], dtype=bool)
        return s, correct

    def __call__(self, encoder: Encoder, progress: Callable[[str], None] | None = None) -> EvalResult:
        p = self.task
        rows = []
        for lang in sorted(self.data):
            splits = self.data[lang]
            s_tr, c_tr = self._candidates(encoder, lang, splits["train"])
            thr, _, _, f1_tr = sweep_threshold(s_tr, c_tr, len(splits["train"].gold), self.threshold)
            s_te, c_te = self._candidates(encoder, lang, splits["test"])
            prec, rec, f1 = prf_at(s_te, c_te, len(splits["test"].gold), thr)
            rows.append({"lang": lang, "precision": prec, "recall": rec, "f1": f1, "threshold": thr,
                         "f1_train": f1_tr, "n_gold": len(splits["test"].gold),
                         "n_xx": len(splits["test"].xx), "n_en": len(splits["test"].en)})
            logger.info("%s %s: P %.4f R %.4f F1 %.4f (threshold %.4f from train, train F1 %.4f)",
                        p, lang, prec, rec, f1, thr, f1_tr)
            if progress:
                progress(lang)
        metrics: dict[str, float] = {f"{p}/n_languages": float(len(rows))}
        for m in ("precision", "recall", "f1"):  # means over languages
            metrics[f"{p}/{m}"] = mean(r[m] for r in rows)
        for r in rows:
            for m in ("precision", "recall", "f1", "threshold", "f1_train"):
                if np.isfinite(r[m]):
                    metrics[f"{p}/{r['lang']}/{m}"] = r[m]
        finite(metrics, p)
        scoring = "ratio_margin" if self.candidates == "knn" else "ratio_margin_exhaustive"
        params = {"scoring": scoring, "k": self.k, "mode": self.mode, "directions": "xx2en,en2xx",
                  "threshold_from": "train", "threshold": self.threshold, **self.params}
        return EvalResult(p, f"{p}/f1", metrics, rows, params, self.skipped)


def build_mining(source_dir: str | os.PathLike[str], languages: Mapping[str, Mapping[str, object]],
                 distractors_per_side: int = 2000, seed: int = 1, k: int = 4, mode: str = "intersection",
                 on_missing: str = "skip", task: str = "mining", threshold: str = "best") -> MiningEvaluator:
    """The BUCC-style evaluator over ``mining.languages`` (canonical code → train/test/distractor sets)."""
    skips = Skips(task, on_missing)
    data = {}
    for lang, sets in languages.items():
        try:
            data[lang] = build_newstest_mining(source_dir, lang, sets, distractors_per_side, seed)
        except DataError as exc:
            skips.add(lang, str(exc))
    params = {"sets": {lang: dict(v) for lang, v in languages.items()}, "distractors_per_side": distractors_per_side,
              "seed": seed, "corpus": "BUCC-style from WMT newstest"}
    return MiningEvaluator(task, data, k, mode, skips.items, params, threshold=threshold)
