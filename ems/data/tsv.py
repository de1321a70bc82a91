"""Read and write the corpus tables (``lang src tgt origin``, gzip TSV, no quoting).

Sentences never hold tabs or line breaks (the parser turns them into spaces), so the files
need no quoting and stay readable with ``zcat | cut``. The reader is strict: the header must
be ``COLUMNS``, every row must have exactly that many fields, and a table without rows is an
error; each message names the file (and line).
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import os
import zlib

import pandas as pd

from ems.errors import DataError, UnknownLanguageError
from ems.io import atomic_path

logger = logging.getLogger(__name__)

COLUMNS = ["lang", "src", "tgt", "origin"]
_HEADER = "\t".join(COLUMNS)
#: The first line of every corpus table, as the streaming writers write it.
HEADER_LINE = _HEADER + "\n"


def write_pairs(path: str | os.PathLike[str], frame: pd.DataFrame) -> None:
    """Write the ``COLUMNS`` of ``frame`` atomically (gzip level 1: fast, about 3x smaller)."""
    for col in ("src", "tgt"):
        bad = frame[col].str.contains(r"[\t\n\r]", regex=True)
        if bad.any():
            raise DataError(f"{path}: a {col} sentence holds a tab or line break (row {int(bad.to_numpy().argmax())})")
    with atomic_path(path) as tmp:
        frame[COLUMNS].to_csv(tmp, sep="\t", index=False, quoting=csv.QUOTE_NONE, escapechar=None,
                              compression={"method": "gzip", "compresslevel": 1}, lineterminator="\n")


def _read_text(path: str | os.PathLike[str]) -> str:
    """The decompressed, strictly decoded text of a table (DataError naming file and line)."""
    try:
        with gzip.open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError as exc:
        raise DataError(f"{path}: file not found") from exc
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: not a gzip corpus table ({exc or 'truncated'})") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    nul = data.find(b"\x00")
    if nul >= 0:
        raise DataError(f"{path}, line {_line_of(data, nul)}: NUL byte")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}, line {_line_of(data, exc.start)}: not valid UTF-8") from exc


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def read_pairs(path: str | os.PathLike[str], usecols: list[str] | None = None,
               allow_empty: bool = False) -> pd.DataFrame:
    """Read a table written by :func:`write_pairs` (all columns as strings, no NA guessing)."""
    wanted = usecols or COLUMNS
    unknown = [c for c in wanted if c not in COLUMNS]
    if unknown:
        raise DataError(f"{path}: no column(s) {unknown} in a corpus table (columns {COLUMNS})")
    text = _read_text(path)
    if not text:
        raise DataError(f"{path}: empty file; expected the header line {_HEADER!r}")
    header, _, body = text.partition("\n")
    if header != _HEADER:
        raise DataError(f"{path}, line 1: header {header[:80]!r} is not {_HEADER!r}")
    body = body.removesuffix("\n")
    lines = body.split("\n") if body else []
    fields = len(COLUMNS) - 1
    bad = next((i for i, line in enumerate(lines) if line.count("\t") != fields), None)
    if bad is not None:
        found = lines[bad].count("\t") + 1 if lines[bad] else 0
        raise DataError(f"{path}, line {bad + 2}: {found} field(s), expected {len(COLUMNS)} ({_HEADER!r}, tab-separated)")
    if not lines and not allow_empty:
        raise DataError(f"{path}: no pairs (header only)")
    if not lines:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in wanted})
    frame = pd.read_csv(io.StringIO(body), sep="\t", header=None, names=COLUMNS, usecols=wanted, quoting=csv.QUOTE_NONE,
                        dtype=str, keep_default_na=False, na_filter=False, engine="c")
    if "lang" in wanted:
        _check_codes(path, frame["lang"])
    return frame[wanted]


def _check_codes(path: str | os.PathLike[str], langs: pd.Series) -> None:
    """Every ``lang`` value must be a canonical code (the tables join on it)."""
    from ems.languages import canonical

    for code in langs.unique():
        try:
            ok = canonical(code) == code
        except UnknownLanguageError:
            ok = False
        if not ok:
            line = int((langs == code).to_numpy().argmax()) + 2
            raise DataError(f"{path}, line {line}: lang {code!r} is not a canonical language code (ems.languages.canonical)")


def check_header(path: str | os.PathLike[str], line: str) -> None:
    """The first line of a streamed corpus table must be the header (DataError naming the file)."""
    header = line.rstrip("\n")
    if header != _HEADER:
        raise DataError(f"{path}, line 1: header {header[:80]!r} is not {_HEADER!r}")
