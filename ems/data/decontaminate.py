"""The evaluation sentences that no training pair may hold (on either side).

Evaluation sentences (both sides, every language) are normalised with
:func:`ems.data.clean.normalise` and case-folded; a pair is dropped when its non-English
*or* English side, normalised and case-folded the same way, is among them. Sets:
Tatoeba v1 (112 languages), FLORES-200 devtest, SIB-200 train/dev/test (= FLORES
dev+devtest), UMSAB train/val/test, the WMT newstest sets that ``mining.languages``
reserves, and every sentence (all languages and splits, both sides) of each configured
``evaluation.extra_datasets`` entry, as set ``extra:<name>``. Each key is attributed to the
first set that holds it (built-in sets first); :mod:`ems.data.evalkeys` hashes them once for
every language job (:mod:`ems.data.prepare`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ems.data.clean import normalise
from ems.datasets import load_flores, load_newstest, load_sib200, load_tatoeba, load_umsab
from ems.errors import ConfigError

logger = logging.getLogger(__name__)

#: Evaluation sets in the order in which a removal is attributed.
SETS = ("tatoeba", "flores", "sib200", "umsab", "mining")


def match_key(text: str) -> str:
    """The form in which training and evaluation sentences are compared."""
    return normalise(text).casefold()


def _sentences(name: str, sources: Mapping[str, str | os.PathLike[str] | None],
               mining: Mapping[str, Mapping[str, Any]]) -> Iterable[str]:
    def need(role: str) -> str | os.PathLike[str]:
        path = sources.get(role)
        if not path:
            raise ConfigError(f"decontamination.{name} is enabled but no {role} source folder was given")
        return path

    if name == "tatoeba":
        for xx, eng in load_tatoeba(need("laser")).values():
            yield from xx
            yield from eng
    elif name == "flores":
        for lines in load_flores(need("opus_mt_testsets")).values():
            yield from lines
    elif name == "sib200":
        for split in ("train", "dev", "test"):
            for frame in load_sib200(need("sib200"), split).values():
                yield from frame["text"]
    elif name == "umsab":
        for split in ("train", "val", "test"):
            for texts, _ in load_umsab(need("umsab"), split).values():
                yield from texts
    elif name == "mining":
        for lang, spec in mining.items():
            for set_name in [spec["train"], spec["test"], *spec.get("distractors", [])]:
                xx, eng = load_newstest(need("opus_mt_testsets"), lang, set_name)
                yield from xx
                yield from eng
    else:
        raise ConfigError(f"unknown evaluation set {name!r} under decontamination")


def _extra_sentences(entry: Mapping[str, Any]) -> Iterable[str]:
    from ems.datasets.extra import dataset_sentences

    return dataset_sentences(entry)


def set_names(enabled: Mapping[str, bool], extra: Sequence[Mapping[str, Any]] = ()) -> list[str]:
    """The enabled sets in attribution order: built-in sets, then ``extra:<name>`` per extra dataset."""
    names = [name for name in SETS if enabled.get(name, False)]
    if enabled.get("extra_datasets", True):
        names += [f"extra:{entry['name']}" for entry in extra]
    return names


def evaluation_keys(enabled: Mapping[str, bool], sources: Mapping[str, str | os.PathLike[str] | None],
                    mining: Mapping[str, Mapping[str, Any]],
                    extra: Sequence[Mapping[str, Any]] = ()) -> dict[str, str]:
    """``{match key: first evaluation set holding it}`` over the enabled sets (``extra``: the
    ``evaluation.extra_datasets`` entries, used unless ``decontamination.extra_datasets`` is false)."""
    keys: dict[str, str] = {}
    entries = {f"extra:{entry['name']}": entry for entry in extra}
    for name in set_names(enabled, extra):
        before = len(keys)
        n = 0
        texts = _extra_sentences(entries[name]) if name in entries else _sentences(name, sources, mining)
        for text in texts:
            n += 1
            key = match_key(text)
            if key:
                keys.setdefault(key, name)
        logger.info("decontamination set %s: %d sentences, %d new keys", name, n, len(keys) - before)
    return keys
