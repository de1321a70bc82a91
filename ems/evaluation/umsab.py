"""UMSAB zero-shot tweet sentiment (3 classes, 8 languages; the MARC role of the paper).

English train/val → test of the 7 other languages. The reader decodes the literal
``\\uXXXX`` escapes of the files.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from ems.datasets import load_umsab
from ems.errors import DataError
from ems.evaluation.classification import LabelledSet, ZeroShotClassification
from ems.evaluation.result import Skips, select_languages
from ems.languages import ENGLISH

logger = logging.getLogger(__name__)


def build_umsab(source_dir: str | os.PathLike[str], languages: str | Sequence[str] = "all",
                classifier: str = "logreg", seed: int = 1, on_missing: str = "skip",
                task: str = "umsab") -> ZeroShotClassification:
    splits = {split: load_umsab(source_dir, split) for split in ("train", "val", "test")}
    if ENGLISH not in splits["train"] or ENGLISH not in splits["val"]:
        raise DataError(f"{task}: no English train/val files in {source_dir}")
    skips = Skips(task, on_missing)
    langs = select_languages(task, [lang for lang in splits["test"] if lang != ENGLISH], languages, None, skips)
    tests = {}
    for lang in langs + [ENGLISH]:
        texts, labels = splits["test"][lang]
        if not texts:
            skips.add(lang, "empty test split")
            continue
        tests[lang] = LabelledSet(texts, labels)
    train = LabelledSet(*splits["train"][ENGLISH])
    dev = LabelledSet(*splits["val"][ENGLISH])
    return ZeroShotClassification(task, train, dev, tests, classifier, seed, ENGLISH, skips.items,
                                  {"dev_split": "val"})
