"""X–English file pairs of OPUS-MT-testsets (``testsets/<xxx>-eng/``, ``testsets/eng-<xxx>/``).

Each folder holds ``<stem>.<xxx>`` / ``<stem>.eng`` pairs for benchmarks (Tatoeba-Challenge,
WMT newstest, TICO-19, FLORES-1 ``wikipedia.*``), and for mixed-language Tatoeba folders a
per-line ``<stem>.<xxx>.labels`` file. The FLORES folders and ``eng-eng`` are not pair
folders and are skipped. :func:`load_newstest` reads the WMT sets the mining task holds out.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ems.datasets._io import locate, read_lines, read_parallel
from ems.errors import DataError, UnknownLanguageError
from ems.languages import ENGLISH, canonical

logger = logging.getLogger(__name__)

TESTSETS_DIR = "testsets"
#: Folders of OPUS-MT-testsets that are evaluation data, never training pairs.
EXCLUDED_FOLDERS = frozenset({"flores101_dataset", "flores200_dataset", "eng-eng"})
NEWS_PREFIXES = ("newstest", "news-test", "newssyscomb", "newsdiscusstest")


@dataclass(frozen=True)
class PairFile:
    """One benchmark file pair of a language folder."""

    folder: str  #: e.g. ``deu-eng``
    stem: str  #: e.g. ``newstest2019``
    code: str  #: the folder's non-English code as written (``zho``, ``por_BR``)
    lang: str  #: its canonical code
    xx_path: Path
    eng_path: Path
    labels_path: Path | None

    @property
    def origin(self) -> str:
        return f"{self.folder}/{self.stem}"

    def read(self) -> tuple[list[str], list[str], list[str]]:
        """``(xx, eng, langs)``: aligned sentences and the canonical language of each line."""
        xx, eng = read_parallel(self.xx_path, self.eng_path)
        if self.labels_path is None:
            return xx, eng, [self.lang] * len(xx)
        labels = read_lines(self.labels_path)
        if len(labels) != len(xx):
            raise DataError(
                f"ragged labels: {self.labels_path} has {len(labels)} lines but {self.xx_path} has {len(xx)} lines"
            )
        cache: dict[str, str] = {}
        langs = []
        for number, label in enumerate(labels, start=1):
            if label not in cache:
                try:
                    cache[label] = canonical(label)
                except UnknownLanguageError as exc:
                    raise UnknownLanguageError(f"{self.labels_path}, line {number}: {exc}") from exc
            langs.append(cache[label])
        return xx, eng, langs


def testsets_dir(source_dir: str | os.PathLike[str]) -> Path:
    return locate(source_dir, TESTSETS_DIR, "*-eng")


def folder_code(name: str) -> str | None:
    """The non-English code of a pair folder name, or None when it is not an X–English pair."""
    if name in EXCLUDED_FOLDERS or "-" not in name:
        return None
    left, _, right = name.partition("-")
    if left == ENGLISH and right != ENGLISH:
        return right
    if right == ENGLISH and left != ENGLISH:
        return left
    return None


def iter_pair_files(source_dir: str | os.PathLike[str]) -> Iterator[PairFile]:
    """Every X–English benchmark file pair, folders and stems in sorted order."""
    root = testsets_dir(source_dir)
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        code = folder_code(folder.name)
        if code is None:
            continue
        try:
            lang = canonical(code)
        except UnknownLanguageError as exc:
            raise UnknownLanguageError(f"{folder}: {exc}") from exc
        names = {p.name for p in folder.iterdir() if p.is_file()}
        for name in sorted(names):
            if name.endswith((".labels", f".{ENGLISH}")):
                continue
            stem, _, _ = name.rpartition(".")
            if not stem:
                continue
            if f"{stem}.{ENGLISH}" not in names:
                raise DataError(f"{folder / name}: no English partner file {folder / (stem + '.eng')}")
            labels = folder / f"{name}.labels" if f"{name}.labels" in names else None
            yield PairFile(folder.name, stem, code, lang, folder / name, folder / f"{stem}.{ENGLISH}", labels)
        partnered = {n.rpartition(".")[0] for n in names if not n.endswith((".labels", f".{ENGLISH}"))}
        for name in sorted(names):
            if name.endswith(f".{ENGLISH}") and name[: -len(ENGLISH) - 1] not in partnered:
                raise DataError(f"{folder / name}: English file without a partner in {folder}")


def is_news(stem: str) -> bool:
    return stem.startswith(NEWS_PREFIXES)


def load_newstest(source_dir: str | os.PathLike[str], lang: str, set_name: str) -> tuple[list[str], list[str]]:
    """Aligned ``(xx, eng)`` sentences of one WMT set (``newstest2019``) for a canonical language.

    Both folder directions (``deu-eng``, ``eng-deu``) are read and merged; a pair whose
    either side was already seen is dropped, so every sentence occurs once on its side.
    """
    lang = canonical(lang)
    xx_out: list[str] = []
    eng_out: list[str] = []
    seen_xx: set[str] = set()
    seen_eng: set[str] = set()
    found = []
    for pf in iter_pair_files(source_dir):
        if pf.lang != lang or pf.stem != set_name:
            continue
        found.append(pf.origin)
        xx, eng, _ = pf.read()
        for a, b in zip(xx, eng):
            if a in seen_xx or b in seen_eng:
                continue
            seen_xx.add(a)
            seen_eng.add(b)
            xx_out.append(a)
            eng_out.append(b)
    if not found:
        raise DataError(f"no {set_name} files for language {lang!r} in {testsets_dir(source_dir)}")
    logger.debug("%s %s: %d pairs from %s", lang, set_name, len(xx_out), found)
    return xx_out, eng_out


def newstest_sets(source_dir: str | os.PathLike[str]) -> dict[str, list[str]]:
    """``{canonical lang: [WMT set names]}`` available, for configuration checks."""
    out: dict[str, set[str]] = {}
    for pf in iter_pair_files(source_dir):
        if is_news(pf.stem):
            out.setdefault(pf.lang, set()).add(pf.stem)
    return {k: sorted(v) for k, v in sorted(out.items())}
