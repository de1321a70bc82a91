"""Evaluators of the datasets added by configuration alone (``evaluation.extra_datasets``).

Classification entries run the zero-shot protocol; retrieval entries run X↔English retrieval.
Reading the files is :mod:`ems.datasets.extra`'s. See docs/evaluation.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from ems.datasets.extra import FORMATS, language_map, load_labelled, load_pairs
from ems.errors import ConfigError, DataError
from ems.evaluation.classification import LabelledSet, ZeroShotClassification
from ems.evaluation.result import Skips
from ems.evaluation.retrieval import RetrievalEvaluator
from ems.languages import ENGLISH, canonical

logger = logging.getLogger(__name__)


def build_extra(entry: Mapping[str, Any], on_missing: str = "skip", seed: int = 1,
                train_languages: Sequence[str] | None = None) -> ZeroShotClassification | RetrievalEvaluator:
    """The evaluator of one ``extra_datasets`` entry."""
    name = entry.get("name")
    if not name:
        raise ConfigError("evaluation.extra_datasets: every entry needs a name")
    if entry.get("format") not in FORMATS:
        raise ConfigError(f"evaluation.extra_datasets[{name}].format must be one of {FORMATS}")
    langs = language_map(entry)
    skips = Skips(name, on_missing)
    if entry.get("type") == "classification":
        splits = entry["splits"]
        source = canonical(entry["train_language"])
        if source not in langs:
            raise ConfigError(f"evaluation.extra_datasets[{name}].languages must include the train language {source}")
        try:
            train = LabelledSet(*load_labelled(entry, langs[source], splits["train"]))
            dev = LabelledSet(*load_labelled(entry, langs[source], splits["dev"]))
        except FileNotFoundError as exc:
            raise DataError(f"{name}: train language {source}: file not found: {exc}") from exc
        tests = {}
        for lang, own in langs.items():
            try:
                test = LabelledSet(*load_labelled(entry, own, splits["test"]))
            except FileNotFoundError as exc:
                skips.add(lang, f"file not found: {exc}")
                continue
            if not test.texts:
                skips.add(lang, "empty test split")
                continue
            tests[lang] = test
        return ZeroShotClassification(name, train, dev, tests, entry["classifier"], seed, source,
                                      skips.items, {"path": entry["path"], "format": entry["format"]},
                                      unseen_labels=entry["unseen_labels"])
    if entry.get("type") == "retrieval":
        split = entry["split"]
        data = {}
        for lang, own in langs.items():
            if lang == ENGLISH:
                continue
            try:
                src, tgt = load_pairs(entry, own, split)
            except FileNotFoundError as exc:
                skips.add(lang, f"file not found: {exc}")
                continue
            if not src:
                skips.add(lang, "no sentence pairs")
                continue
            data[lang] = (src, tgt)
        subsets = {"seen": list(train_languages)} if train_languages is not None else {}
        return RetrievalEvaluator(name, data, entry["margin"], int(entry["k"]), subsets,
                                  skips.items, {"path": entry["path"], "format": entry["format"]})
    raise ConfigError(f"evaluation.extra_datasets[{name}].type must be classification or retrieval")
