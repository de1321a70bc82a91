"""Hold out a per-language validation set, then temperature-sample the training set.

Validation pairs are drawn first (a seeded uniform sample per language, at most
``valid_pairs_per_language`` and at most a fifth of a language's pairs, so their mix of
source files follows the language's pool; written in the order drawn), and every remaining pair that shares a side with a
validation pair is removed from the training pool, so validation never overlaps training.
Languages with fewer than ``min_pairs_per_language`` pairs are dropped (logged).

Temperature sampling (Arivazhagan et al. 2019; the paper's code uses T=5): language ``l``
with ``n_l`` training pairs gets ``p_l ∝ n_l^(1/T)`` of ``max_train_pairs`` (default: all
pairs), capped at ``max_pairs_per_language``. A language whose share exceeds its pairs is
upsampled by repetition (every pair ``k`` times plus a random remainder); larger ones are
subsampled without replacement. T=1 keeps the natural distribution, T→∞ is uniform.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ems.data.tsv import read_pairs, write_pairs
from ems.errors import DataError
from ems.io import atomic_path

logger = logging.getLogger(__name__)

MAX_VALID_FRACTION = 0.2


def split_valid(frame: pd.DataFrame, per_language: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(train pool, valid)``: valid drawn per language; pool pairs sharing a side with valid removed.

    ``valid`` is grouped by language and, within a language, kept in the random order of the
    draw (not file order), so any prefix of a language's validation pairs (as
    ``train.dev_pairs_per_language`` reads) is itself a uniform sample of its pool.
    """
    valid_idx = []
    for _, idx in sorted(frame.groupby("lang", sort=True).indices.items()):
        k = min(per_language, int(len(idx) * MAX_VALID_FRACTION))
        if k > 0:
            valid_idx.append(rng.choice(idx, size=k, replace=False))
    chosen = np.concatenate(valid_idx) if valid_idx else np.array([], dtype=int)
    is_valid = np.zeros(len(frame), dtype=bool)
    is_valid[chosen] = True
    valid = frame.iloc[chosen]
    src_seen, tgt_seen = set(valid["src"]), set(valid["tgt"])
    shared = frame["src"].isin(src_seen).to_numpy() | frame["tgt"].isin(tgt_seen).to_numpy()
    pool = frame[~is_valid & ~shared]
    logger.info("validation: %d pairs; %d training pairs sharing a side with them removed",
                len(valid), int((~is_valid & shared).sum()))
    return pool.reset_index(drop=True), valid.reset_index(drop=True)


def temperature_targets(counts: Mapping[str, int], temperature: float, total: int | None,
                        cap: int | None) -> dict[str, int]:
    """Pairs to draw per language: ``total * n_l^(1/T) / sum n^(1/T)`` (largest remainder), capped."""
    langs = sorted(counts)
    n = np.array([counts[l] for l in langs], dtype=float)
    p = n ** (1.0 / temperature)
    p /= p.sum()
    total = int(n.sum()) if total is None else total
    raw = total * p
    base = np.floor(raw).astype(int)
    rest = total - base.sum()
    base[np.argsort(-(raw - base), kind="stable")[:rest]] += 1
    if cap is not None:
        base = np.minimum(base, cap)
    return dict(zip(langs, base.tolist()))


def sample_language(idx: np.ndarray, target: int, rng: np.random.Generator) -> np.ndarray:
    """``target`` row indices from ``idx``: without replacement, or repeated whole + remainder."""
    reps, rest = divmod(target, len(idx))
    parts = [np.tile(idx, reps)] if reps else []
    parts.append(rng.choice(idx, size=rest, replace=False))
    return np.concatenate(parts)


def split_and_sample(frame: pd.DataFrame, settings: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return ``(train, valid, per-language sampling table)``."""
    rng = np.random.default_rng(settings["seed"])
    counts = frame["lang"].value_counts()
    small = counts[counts < settings["min_pairs_per_language"]]
    for lang, n in small.items():
        logger.info("language %s dropped: %d pairs < min_pairs_per_language=%d", lang, n, settings["min_pairs_per_language"])
    frame = frame[~frame["lang"].isin(small.index)].reset_index(drop=True)
    if frame.empty:
        raise DataError("no language has min_pairs_per_language pairs after decontamination; lower it or add languages")
    pool, valid = split_valid(frame, settings["valid_pairs_per_language"], rng)
    groups = pool.groupby("lang", sort=True).indices
    targets = temperature_targets({l: len(i) for l, i in groups.items()}, settings["sampling_temperature"],
                                  settings.get("max_train_pairs"), settings.get("max_pairs_per_language"))
    chosen = [sample_language(groups[l], targets[l], rng) for l in sorted(groups)]
    order = np.concatenate(chosen)
    rng.shuffle(order)
    train = pool.iloc[order].reset_index(drop=True)
    table = pd.DataFrame({
        "lang": sorted(groups),
        "available": [len(groups[l]) for l in sorted(groups)],
        "valid": [int((valid["lang"] == l).sum()) for l in sorted(groups)],
        "sampled": [targets[l] for l in sorted(groups)],
    })
    table["probability"] = table["sampled"] / max(int(table["sampled"].sum()), 1)
    table["repeats"] = table["sampled"] / table["available"]
    logger.info("train: %d pairs over %d languages (T=%s); upsampled: %s", len(train), len(groups),
                settings["sampling_temperature"], table.loc[table["repeats"] > 1, "lang"].tolist())
    return train, valid, table


def run_split_sample(decontaminated: str | os.PathLike[str], train_out: str | os.PathLike[str],
                     valid_out: str | os.PathLike[str], table_out: str | os.PathLike[str],
                     settings: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, valid, table = split_and_sample(read_pairs(decontaminated), settings)
    with atomic_path(table_out) as tmp:
        table.to_csv(tmp, index=False)
    write_pairs(valid_out, valid)
    write_pairs(train_out, train)
    return train, valid
