"""Reader of real BUCC 2018 mining files, for users who have them (not redistributable here).

Layout (as distributed): ``<xx>-en.<split>.<xx>`` and ``<xx>-en.<split>.en`` with lines
``<id>\\t<sentence>``, and ``<xx>-en.<split>.gold`` with lines ``<xx id>\\t<en id>``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ems.datasets._io import read_lines
from ems.errors import ConfigError, DataError
from ems.evaluation.mining import MiningEvaluator, MiningSplit
from ems.evaluation.result import Skips
from ems.languages import canonical

logger = logging.getLogger(__name__)


def _read_ids(path: Path) -> tuple[list[str], dict[str, int]]:
    sentences: list[str] = []
    index: dict[str, int] = {}
    for number, line in enumerate(read_lines(path), start=1):
        sid, tab, text = line.partition("\t")
        if not tab or not sid:
            raise DataError(f"{path}, line {number}: expected '<id>\\t<sentence>'")
        if sid in index:
            raise DataError(f"{path}, line {number}: duplicate id {sid!r}")
        index[sid] = len(sentences)
        sentences.append(text)
    return sentences, index


def load_bucc(folder: str | os.PathLike[str], xx: str, split: str) -> MiningSplit:
    """One BUCC corpus (``xx`` is BUCC's two-letter code: de, fr, ru, zh)."""
    root = Path(folder)
    stem = root / f"{xx}-en.{split}"
    xx_sents, xx_index = _read_ids(Path(f"{stem}.{xx}"))
    en_sents, en_index = _read_ids(Path(f"{stem}.en"))
    gold: set[tuple[int, int]] = set()
    gold_path = Path(f"{stem}.gold")
    for number, line in enumerate(read_lines(gold_path), start=1):
        parts = line.split("\t")
        if len(parts) != 2:
            raise DataError(f"{gold_path}, line {number}: expected '<{xx} id>\\t<en id>'")
        a, b = parts
        if a not in xx_index or b not in en_index:
            raise DataError(f"{gold_path}, line {number}: id {a if a not in xx_index else b!r} not in the corpus")
        gold.add((xx_index[a], en_index[b]))
    split_data = MiningSplit(xx_sents, en_sents, gold)
    split_data.check(str(stem))
    return split_data


def build_bucc2018(cfg: Mapping[str, Any], k: int = 4, mode: str = "intersection", on_missing: str = "skip",
                   task: str = "bucc2018", threshold: str = "best") -> MiningEvaluator:
    """Real BUCC 2018 mining from ``evaluation.mining.bucc2018`` (dir, languages, train/test split names)."""
    folder = cfg.get("dir")
    if not folder or not Path(folder).is_dir():
        raise ConfigError(f"evaluation.mining.bucc2018.dir: {folder!r} is not a folder")
    skips = Skips(task, on_missing)
    data = {}
    for code in cfg["languages"]:  # cfg comes validated: the schema's defaults filled
        try:
            data[canonical(code)] = {split: load_bucc(folder, code, cfg[split]) for split in ("train", "test")}
        except DataError as exc:
            skips.add(canonical(code), str(exc))
    return MiningEvaluator(task, data, k, mode, skips.items,
                           {"corpus": "BUCC 2018", "dir": str(folder), "train_split": cfg["train"],
                            "test_split": cfg["test"]}, threshold=threshold)
