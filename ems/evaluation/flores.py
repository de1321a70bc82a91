"""FLORES-200 devtest retrieval (NLLB Team 2022): each language ↔ English, 1012 sentences.

The sets are multi-way parallel, so the English side is the same for every language and is
embedded once (the retrieval evaluator memoises it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

from ems.datasets import load_flores
from ems.errors import DataError
from ems.evaluation.result import Skips, select_languages
from ems.evaluation.retrieval import RetrievalEvaluator
from ems.languages import ENGLISH

logger = logging.getLogger(__name__)


def build_flores(source_dir: str | os.PathLike[str], languages: str | Sequence[str] = "train",
                 train_languages: Sequence[str] | None = None, margin: bool = False, k: int = 4,
                 on_missing: str = "skip", data: Mapping[str, list[str]] | None = None,
                 task: str = "flores") -> RetrievalEvaluator:
    """The FLORES-200 devtest evaluator over the requested languages."""
    data = load_flores(source_dir, "devtest") if data is None else data
    if ENGLISH not in data or not data[ENGLISH]:
        raise DataError(f"{task}: no English devtest file (eng.devtest) in {source_dir}")
    english = list(data[ENGLISH])
    skips = Skips(task, on_missing)
    langs = select_languages(task, [lang for lang in data if lang != ENGLISH], languages, train_languages, skips)
    chosen = {}
    for lang in langs:
        if not data[lang]:
            skips.add(lang, "no sentences")
            continue
        if len(data[lang]) != len(english):
            raise DataError(f"{task}: {lang} has {len(data[lang])} sentences, English {len(english)}")
        chosen[lang] = (list(data[lang]), english)
    subsets = {"seen": [lang for lang in train_languages if lang != ENGLISH]} if train_languages is not None else {}
    params = {"languages": languages if isinstance(languages, str) else ",".join(languages),
              "split": "devtest", "n_languages_available": len(data) - 1}
    return RetrievalEvaluator(task, chosen, margin=margin, k=k, subsets=subsets, skipped=skips.items, params=params)
