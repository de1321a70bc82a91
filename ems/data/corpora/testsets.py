"""Training pairs of one language from OPUS-MT-testsets (the laptop default corpus, offline).

Reads every X-English benchmark file pair of the fetched archive (both folder directions,
Tatoeba-Challenge test, WMT newstest, TICO-19, FLORES-1 wikipedia; FLORES-101/200 never)
and yields those of one canonical language: a folder's own language, or per line through
its ``.labels`` file (``eng-zho`` holds ``cmn_Hans``, ``cmn_Hant``, ``yue_Hans``). Lines
labelled English on both sides are skipped, as the earlier whole-corpus parser did.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from ems.data.corpora.lines import Progress
from ems.datasets.opus_mt import iter_pair_files
from ems.errors import UnknownLanguageError
from ems.languages import ENGLISH, canonical

logger = logging.getLogger(__name__)

INVENTORY_DIR = Path(__file__).resolve().parents[2] / "resources" / "inventories"


def iter_pairs(source_dir: str | os.PathLike[str], lang: str, progress: Progress) -> Iterator[tuple[str, str, str]]:
    """``(xx, eng, origin)`` of every pair of ``lang`` in the archive, in folder and file order."""
    files = [pf for pf in iter_pair_files(source_dir) if pf.lang == lang or pf.labels_path is not None]
    progress.total += sum(pf.xx_path.stat().st_size for pf in files)
    for pf in files:
        xx, eng, langs = pf.read()
        progress.done += pf.xx_path.stat().st_size
        for a, b, line_lang in zip(xx, eng, langs):
            if line_lang == lang:
                yield a, b, pf.origin


def languages_in(source_dir: str | os.PathLike[str]) -> list[str]:
    """Every canonical non-English language with at least one pair in the archive (sorted)."""
    found: set[str] = set()
    for pf in iter_pair_files(source_dir):
        if pf.labels_path is None:
            found.add(pf.lang)
            continue
        for label in set(pf.labels_path.read_text(encoding="utf-8").split()):
            try:
                found.add(canonical(label))
            except UnknownLanguageError as exc:
                raise UnknownLanguageError(f"{pf.labels_path}: {exc}") from exc
    found.discard(ENGLISH)
    return sorted(found)


def inventory_path(source_name: str) -> Path:
    return INVENTORY_DIR / f"{source_name}.json"


@lru_cache(maxsize=8)
def inventory(source_name: str) -> tuple[str, ...]:
    """The committed language list of a pinned archive (``ems inventory`` writes it), so that
    ``corpus.languages: all`` plans one job per language before anything is fetched."""
    path = inventory_path(source_name)
    if not path.exists():
        from ems.errors import ConfigError

        raise ConfigError(f"corpus.languages: all needs the language inventory {path} of {source_name}; "
                          "write it once with `ems inventory SOURCE_DIR` after fetching, or list the languages")
    return tuple(json.loads(path.read_text(encoding="utf-8"))["languages"])
