"""SIB-200 topic classification (``data/annotated/<lang_Script>/{train,dev,test}.tsv``)."""

from __future__ import annotations

import csv
import logging
import os

import pandas as pd

from ems.datasets._io import locate
from ems.errors import DataError, UnknownLanguageError
from ems.languages import canonical

logger = logging.getLogger(__name__)

SIB_DIR = "data/annotated"
SPLITS = ("train", "dev", "test")
COLUMNS = ["index_id", "category", "text"]


def read_sib_tsv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """One split file as a DataFrame with columns ``index_id, category, text``."""
    try:
        frame = pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, dtype={"index_id": int, "category": str, "text": str},
                            keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 ({exc.reason})") from exc
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: not a SIB-200 TSV ({exc})") from exc
    if list(frame.columns) != COLUMNS:
        raise DataError(f"{path}: expected columns {COLUMNS}, found {list(frame.columns)}")
    return frame


def sib200_languages(source_dir: str | os.PathLike[str]) -> dict[str, str]:
    """``{canonical lang: folder name}`` of the languages present."""
    root = locate(source_dir, SIB_DIR, "*/train.tsv")
    out: dict[str, str] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            lang = canonical(folder.name)
        except UnknownLanguageError as exc:
            raise UnknownLanguageError(f"{folder}: {exc}") from exc
        if lang in out:
            raise DataError(f"{folder}: maps to {lang!r}, as does {out[lang]}")
        out[lang] = folder.name
    return out


def load_sib200(source_dir: str | os.PathLike[str], split: str,
                languages: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """``{canonical lang: DataFrame(index_id, category, text)}`` of one split (train/dev/test).

    ``languages`` (canonical codes) restricts the languages read; None reads all 205.
    """
    if split not in SPLITS:
        raise DataError(f"unknown SIB-200 split {split!r}; expected one of {SPLITS}")
    root = locate(source_dir, SIB_DIR, "*/train.tsv")
    folders = sib200_languages(source_dir)
    wanted = folders if languages is None else {l: folders[l] for l in languages if l in folders}
    return {lang: read_sib_tsv(root / name / f"{split}.tsv") for lang, name in wanted.items()}
