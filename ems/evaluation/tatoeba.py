"""Tatoeba v1 similarity search (LASER; Artetxe & Schwenk 2019): 112 languages ↔ English.

Retrieval accuracy per direction and their mean, per language; means over all evaluated
languages, over the 36 languages of XTREME's Tatoeba task, and over the languages seen in
training. The English sides differ between languages, so each is embedded with its language.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ems.datasets import load_tatoeba
from ems.evaluation.result import Skips, select_languages
from ems.evaluation.retrieval import RetrievalEvaluator
from ems.languages import canonical

logger = logging.getLogger(__name__)

#: The 36 Tatoeba languages of XTREME (Hu et al. 2020, "XTREME: A Massively Multilingual
#: Multi-task Benchmark", ICML; the ``"tatoeba"`` entry of ``TASK2LANGS`` in the
#: google-research/xtreme code), as ISO 639-1 codes, mapped to our canonical codes.
XTREME36_ISO1 = ["af", "ar", "bg", "bn", "de", "el", "es", "et", "eu", "fa", "fi", "fr", "he", "hi", "hu", "id", "it", "ja", "jv", "ka", "kk", "ko", "ml", "mr", "nl", "pt", "ru", "sw", "ta", "te", "th", "tl", "tr", "ur", "vi", "zh"]


def xtreme36() -> list[str]:
    """Canonical codes of the XTREME Tatoeba languages (``zh`` → ``cmn_Hans``, ``ar`` → ``arb_Arab``)."""
    return [canonical(c) for c in XTREME36_ISO1]


def build_tatoeba(source_dir: str | os.PathLike[str], languages: str | Sequence[str] = "all",
                  train_languages: Sequence[str] | None = None, margin: bool = False, k: int = 4,
                  on_missing: str = "skip", data: Mapping[str, tuple[list[str], list[str]]] | None = None,
                  task: str = "tatoeba") -> RetrievalEvaluator:
    """The Tatoeba evaluator over the requested languages (``data`` overrides reading the source)."""
    data = load_tatoeba(source_dir) if data is None else data
    skips = Skips(task, on_missing)
    langs = select_languages(task, data, languages, train_languages, skips)
    chosen: dict[str, tuple[list[str], list[str]]] = {}
    for lang in langs:
        xx, en = data[lang]
        if not xx:
            skips.add(lang, "no sentence pairs")
            continue
        chosen[lang] = (list(xx), list(en))
    subsets: dict[str, Any] = {"xtreme36": xtreme36()}
    if train_languages is not None:
        subsets["seen"] = [lang for lang in train_languages if lang != "eng"]
    params = {"languages": languages if isinstance(languages, str) else ",".join(languages),
              "source": "LASER data/tatoeba/v1"}
    return RetrievalEvaluator(task, chosen, margin=margin, k=k, subsets=subsets, skipped=skips.items, params=params)
