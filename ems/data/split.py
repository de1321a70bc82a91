"""The validation split and the temperature-sampling plan, from per-language counts and keys only.

Validation pairs are drawn first, per language (a seeded uniform sample, at most
``valid_pairs_per_language`` and at most a fifth of a language's pairs, kept in the order
drawn, so any prefix is itself a uniform sample). A training pair that shares a side (its
match key: normalised, case-folded) with a validation pair of *any* language leaves the
pool. Languages with fewer than ``min_pairs_per_language`` pairs are dropped (logged).

Temperature sampling (Arivazhagan et al. 2019; the paper's code uses T=5): language ``l``
with ``n_l`` pool pairs gets ``p_l ∝ n_l^(1/T)`` of ``max_train_pairs`` (default: all
pairs), capped at ``max_pairs_per_language``. The plan reads only ``keys.npy`` and
``stats.json`` of each language (read in chunks); :mod:`ems.data.sample` then
streams each language's text once.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ems.data import npyio
from ems.data.hashing import member
from ems.errors import DataError
from ems.io import atomic_dir, atomic_path, read_json, write_json

logger = logging.getLogger(__name__)

MAX_VALID_FRACTION = 0.2
CHUNK = 1 << 20


def language_rng(seed: int, lang: str, purpose: str) -> np.random.Generator:
    """A generator of its own per (seed, language, purpose): adding a language changes no other's draw."""
    return np.random.default_rng([seed, zlib.crc32(lang.encode()), zlib.crc32(purpose.encode())])


def temperature_targets(counts: Mapping[str, int], temperature: float, total: int | None,
                        cap: int | None) -> dict[str, int]:
    """Pairs to draw per language: ``total * n_l^(1/T) / sum n^(1/T)`` (largest remainder), capped."""
    langs = sorted(counts)
    n = np.array([counts[l] for l in langs], dtype=float)
    p = n ** (1.0 / temperature)
    p /= p.sum()
    total = int(n.sum()) if total is None else total
    raw = total * p
    base = np.floor(raw).astype(np.int64)
    rest = total - int(base.sum())
    base[np.argsort(-(raw - base), kind="stable")[:rest]] += 1
    if cap is not None:
        base = np.minimum(base, cap)
    return dict(zip(langs, base.tolist()))


def pool_mask(block: np.ndarray, start: int, valid_idx: np.ndarray, valid_src: np.ndarray,
              valid_tgt: np.ndarray) -> np.ndarray:
    """Which rows of a block of a language's keys (rows ``start:start+len(block)``) stay in the pool."""
    keep = ~(member(valid_src, block[:, 0]) | member(valid_tgt, block[:, 1]))
    inside = valid_idx[(valid_idx >= start) & (valid_idx < start + len(block))] - start
    keep[inside] = False
    return keep


def iter_pool(keys_path: Path, valid_idx: np.ndarray, valid_src: np.ndarray, valid_tgt: np.ndarray):
    """``(start, mask)`` per block of a language's ``keys.npy``, read in chunks (no memory map)."""
    start = 0
    for block in npyio.iter_rows(keys_path, CHUNK):
        yield start, pool_mask(block, start, valid_idx, valid_src, valid_tgt)
        start += len(block)


def rows_at(keys_path: Path, rows: np.ndarray) -> np.ndarray:
    """The key rows at sorted positions ``rows`` (read in chunks)."""
    out, start = [], 0
    for block in npyio.iter_rows(keys_path, CHUNK):
        inside = rows[(rows >= start) & (rows < start + len(block))] - start
        out.append(block[inside])
        start += len(block)
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.uint64)


def make_plan(language_dirs: Mapping[str, str | os.PathLike[str]], settings: Mapping[str, Any],
              out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Write ``out_dir/{plan.json, valid_src.npy, valid_tgt.npy}``; return the plan."""
    seed = settings["seed"]
    stats = {lang: read_json(Path(d) / "stats.json") for lang, d in sorted(language_dirs.items())}
    counts = {lang: int(s["decontaminated"]) for lang, s in stats.items()}
    kept = {l: n for l, n in counts.items() if n >= settings["min_pairs_per_language"]}
    for lang in sorted(set(counts) - set(kept)):
        logger.info("language %s dropped: %d pairs < min_pairs_per_language=%d", lang, counts[lang],
                    settings["min_pairs_per_language"])
    if not kept:
        raise DataError("no language has min_pairs_per_language pairs after decontamination; lower it or add languages")
    keys = {l: Path(language_dirs[l]) / "keys.npy" for l in kept}
    valid_idx: dict[str, np.ndarray] = {}
    for lang, n in kept.items():
        if npyio.length(keys[lang]) != n:
            raise DataError(f"{language_dirs[lang]}: keys.npy has {npyio.length(keys[lang])} rows, stats.json says {n}; "
                            "rerun its job")
        k = min(settings["valid_pairs_per_language"], int(n * MAX_VALID_FRACTION))
        valid_idx[lang] = language_rng(seed, lang, "valid").choice(n, size=k, replace=False).astype(np.int64)
    valid_rows = np.concatenate([rows_at(keys[l], np.sort(i)) for l, i in valid_idx.items()])
    valid_src, valid_tgt = np.unique(valid_rows[:, 0]), np.unique(valid_rows[:, 1])
    pools: dict[str, int] = {}
    for lang, n in kept.items():
        pools[lang] = sum(int(mask.sum()) for _, mask in iter_pool(keys[lang], valid_idx[lang], valid_src, valid_tgt))
        shared = n - len(valid_idx[lang]) - pools[lang]
        if shared:
            logger.info("%s: %d training pairs share a side with a validation pair and leave the pool", lang, shared)
    empty = sorted(l for l, p in pools.items() if p == 0)
    if empty:
        raise DataError(f"languages {empty} have no training pairs left after the validation split")
    targets = temperature_targets(pools, settings["sampling_temperature"], settings.get("max_train_pairs"),
                                  settings.get("max_pairs_per_language"))
    plan = {
        "seed": seed,
        "languages": {lang: {"available": pools[lang], "pairs": kept[lang], "valid": valid_idx[lang].tolist(),
                             "sampled": targets[lang]} for lang in kept},
        "dropped": {l: counts[l] for l in sorted(set(counts) - set(kept))},
    }
    with atomic_dir(out_dir) as tmp:
        np.save(tmp / "valid_src.npy", valid_src)
        np.save(tmp / "valid_tgt.npy", valid_tgt)
        write_json(tmp / "plan.json", plan)
    total = sum(targets.values())
    logger.info("plan: %d validation pairs; %d training pairs over %d languages (T=%s); upsampled: %s",
                sum(len(v) for v in valid_idx.values()), total, len(kept), settings["sampling_temperature"],
                [l for l in kept if targets[l] > pools[l]])
    return plan


def sampling_table(plan: Mapping[str, Any]) -> pd.DataFrame:
    """``lang, available, valid, sampled, probability, repeats`` per language."""
    langs = sorted(plan["languages"])
    rows = plan["languages"]
    table = pd.DataFrame({
        "lang": langs,
        "available": [rows[l]["available"] for l in langs],
        "valid": [len(rows[l]["valid"]) for l in langs],
        "sampled": [rows[l]["sampled"] for l in langs],
    })
    table["probability"] = table["sampled"] / max(int(table["sampled"].sum()), 1)
    table["repeats"] = table["sampled"] / table["available"]
    return table


def write_reports(language_dirs: Mapping[str, str | os.PathLike[str]], plan: Mapping[str, Any],
                  sampling_csv: str | os.PathLike[str], removed_csv: str | os.PathLike[str],
                  decontamination_csv: str | os.PathLike[str]) -> None:
    """The sampling table and the per-language removal reports (as the whole-corpus steps wrote them)."""
    removed, contaminated = [], []
    for lang, d in sorted(language_dirs.items()):
        stats = read_json(Path(d) / "stats.json")
        removed += [{"lang": lang, "reason": r, "removed": n} for r, n in stats["removed"].items()]
        contaminated += [{"lang": lang, **row} for row in stats["decontamination"]]
    for path, rows, cols in ((removed_csv, removed, ["lang", "reason", "removed"]),
                             (decontamination_csv, contaminated, ["lang", "reason", "side", "removed"])):
        with atomic_path(path) as tmp:
            pd.DataFrame(rows, columns=cols).to_csv(tmp, index=False)
    with atomic_path(sampling_csv) as tmp:
        sampling_table(plan).to_csv(tmp, index=False)
