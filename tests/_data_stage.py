"""Run the per-language data stage in-process on small tables (the rules run the same functions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ems.data.evalkeys import EvalKeys
from ems.data.prepare import prepare_language
from ems.data.sample import sample_language
from ems.data.split import make_plan, write_reports

FILTERS = {"min_chars": 1, "max_chars": 400, "max_length_ratio": 3.0}
SPLIT = {"min_pairs_per_language": 10, "valid_pairs_per_language": 20, "sampling_temperature": 5.0,
         "max_pairs_per_language": None, "max_train_pairs": None, "seed": 3}
NO_KEYS = EvalKeys(np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int16), [])


def rows_by_language(rows: Iterable[tuple]) -> dict[str, list[tuple[str, str, str]]]:
    """``(lang, src, tgt[, origin])`` rows grouped as each language job reads them."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for row in rows:
        lang, src, tgt, *rest = row
        out.setdefault(lang, []).append((src, tgt, rest[0] if rest else "t/x"))
    return out


def prepare_all(rows: Mapping[str, list[tuple[str, str, str]]], root: Path, filters: Mapping[str, Any] = FILTERS,
                keys: EvalKeys = NO_KEYS) -> dict[str, Path]:
    dirs = {}
    for lang, pairs in sorted(rows.items()):
        dirs[lang] = root / "languages" / lang
        prepare_language(lang, pairs, filters, keys, dirs[lang])
    return dirs


def split_all(dirs: Mapping[str, Path], root: Path, split: Mapping[str, Any] = SPLIT,
              sketch: int = 1000) -> dict[str, Path]:
    plan = make_plan(dirs, split, root / "plan")
    write_reports(dirs, plan, root / "sampling.csv", root / "clean.removed.csv", root / "decontamination.csv")
    out = {}
    for lang, d in dirs.items():
        out[lang] = root / "split" / lang
        sample_language(lang, d, root / "plan", out[lang], sketch)
    return out
