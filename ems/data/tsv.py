"""Read and write the corpus tables (``lang src tgt origin``, gzip TSV, no quoting).

Sentences never hold tabs or line breaks (the parser turns them into spaces), so the files
need no quoting and stay readable with ``zcat | cut``.
"""

from __future__ import annotations

import csv
import logging
import os

import pandas as pd

from ems.errors import DataError
from ems.io import atomic_path

logger = logging.getLogger(__name__)

COLUMNS = ["lang", "src", "tgt", "origin"]


def write_pairs(path: str | os.PathLike[str], frame: pd.DataFrame) -> None:
    """Write the ``COLUMNS`` of ``frame`` atomically (gzip level 1: fast, about 3x smaller)."""
    for col in ("src", "tgt"):
        bad = frame[col].str.contains(r"[\t\n\r]", regex=True)
        if bad.any():
            raise DataError(f"{path}: a {col} sentence holds a tab or line break (row {int(bad.to_numpy().argmax())})")
    with atomic_path(path) as tmp:
        frame[COLUMNS].to_csv(tmp, sep="\t", index=False, quoting=csv.QUOTE_NONE, escapechar=None,
                              compression={"method": "gzip", "compresslevel": 1}, lineterminator="\n")


def read_pairs(path: str | os.PathLike[str], usecols: list[str] | None = None) -> pd.DataFrame:
    """Read a table written by :func:`write_pairs` (all columns as strings, no NA guessing)."""
    try:
        frame = pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False,
                            na_filter=False, usecols=usecols, compression="gzip", encoding="utf-8",
                            engine="c")
    except FileNotFoundError as exc:
        raise DataError(f"{path}: file not found") from exc
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as exc:
        raise DataError(f"{path}: not a corpus table ({exc})") from exc
    wanted = usecols or COLUMNS
    if sorted(frame.columns) != sorted(wanted):
        raise DataError(f"{path}: expected columns {wanted}, found {list(frame.columns)}")
    return frame
