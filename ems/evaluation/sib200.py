"""SIB-200 zero-shot topic classification (7 topics; the MLDoc role of the paper)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from ems.datasets import load_sib200, sib200_languages
from ems.errors import DataError
from ems.evaluation.classification import LabelledSet, ZeroShotClassification
from ems.evaluation.result import Skips, select_languages
from ems.languages import ENGLISH

logger = logging.getLogger(__name__)


def build_sib200(source_dir: str | os.PathLike[str], languages: str | Sequence[str] = "train",
                 train_languages: Sequence[str] | None = None, classifier: str = "logreg", seed: int = 1,
                 on_missing: str = "skip", task: str = "sib200") -> ZeroShotClassification:
    """English train/dev → test of the requested languages (English test reported beside)."""
    available = sib200_languages(source_dir)
    if ENGLISH not in available:
        raise DataError(f"{task}: no English folder in {source_dir}")
    skips = Skips(task, on_missing)
    langs = select_languages(task, [lang for lang in available if lang != ENGLISH], languages, train_languages, skips)
    eng = {split: load_sib200(source_dir, split, [ENGLISH])[ENGLISH] for split in ("train", "dev")}
    frames = load_sib200(source_dir, "test", langs + [ENGLISH])
    tests = {}
    for lang, frame in frames.items():
        if frame.empty:
            skips.add(lang, "empty test split")
            continue
        tests[lang] = LabelledSet(frame["text"].tolist(), frame["category"].tolist())
    train = LabelledSet(eng["train"]["text"].tolist(), eng["train"]["category"].tolist())
    dev = LabelledSet(eng["dev"]["text"].tolist(), eng["dev"]["category"].tolist())
    params = {"languages": languages if isinstance(languages, str) else ",".join(languages)}
    return ZeroShotClassification(task, train, dev, tests, classifier, seed, ENGLISH, skips.items, params)
