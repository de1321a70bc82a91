"""UMSAB tweet sentiment of XLM-T (``data/sentiment/<language name>/{split}_{text,labels}.txt``).

The text files carry literal ``\\uXXXX`` escapes (for example ``\\u2019``); they are decoded
here (surrogate pairs included) so that the sentences match what a user would type.
"""

from __future__ import annotations

import logging
import os
import re

from ems.datasets._io import locate, read_parallel
from ems.errors import DataError, UnknownLanguageError
from ems.languages import canonical

logger = logging.getLogger(__name__)

UMSAB_DIR = "data/sentiment"
SPLITS = ("train", "val", "test")
_ESCAPE = re.compile(r"(?:\\u[0-9a-fA-F]{4})+")


def decode_escapes(text: str) -> str:
    """Turn literal ``\\uXXXX`` runs into characters (UTF-16 surrogate pairs joined)."""
    def repl(match: re.Match[str]) -> str:
        units = match.group(0).split("\\u")[1:]
        raw = "".join(chr(int(u, 16)) for u in units)
        return raw.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _ESCAPE.sub(repl, text)


def load_umsab(source_dir: str | os.PathLike[str], split: str) -> dict[str, tuple[list[str], list[int]]]:
    """``{canonical lang: (texts, labels)}``; labels 0 negative, 1 neutral, 2 positive.

    The ``all`` folder (a concatenation of the others) is skipped.
    """
    if split not in SPLITS:
        raise DataError(f"unknown UMSAB split {split!r}; expected one of {SPLITS}")
    root = locate(source_dir, UMSAB_DIR, "*/train_text.txt")
    out: dict[str, tuple[list[str], list[int]]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "all"):
        try:
            lang = canonical(folder.name)
        except UnknownLanguageError as exc:
            raise UnknownLanguageError(f"{folder}: {exc}") from exc
        text_path, label_path = folder / f"{split}_text.txt", folder / f"{split}_labels.txt"
        texts, raw_labels = read_parallel(text_path, label_path)
        labels = []
        for number, value in enumerate(raw_labels, start=1):
            try:
                labels.append(int(value))
            except ValueError as exc:
                raise DataError(f"{label_path}, line {number}: label {value!r} is not an integer") from exc
        out[lang] = ([decode_escapes(t) for t in texts], labels)
    if not out:
        raise DataError(f"{root}: no language folders")
    return out
